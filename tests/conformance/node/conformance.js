#!/usr/bin/env node
// Conformance checks of the Loyalty gRPC server with @grpc/grpc-js, a client nobody here wrote.
//
//   LOYALTY_GRPC_ADDR=127.0.0.1:5001 LOYALTY_ADMIN_KEY=... node conformance.js
//
// Prints one line per check ("ok   name" / "FAIL name: expected X got Y") and exits 1 when any
// check failed. Card numbers and store ids are fresh per run, so it can be run again and again
// against one server.
'use strict';

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const ADDR = process.env.LOYALTY_GRPC_ADDR;
const ADMIN_KEY = (process.env.LOYALTY_ADMIN_KEY || '').trim();
if (!ADDR || !ADMIN_KEY) {
  console.error('set LOYALTY_GRPC_ADDR (host:port) and LOYALTY_ADMIN_KEY');
  process.exit(2);
}

// ---- contract -------------------------------------------------------------------------------

const PROTOS = path.resolve(__dirname, '../../../protos');
// google/protobuf/timestamp.proto comes with protobufjs' bundled well-known types.
const definition = protoLoader.loadSync(
  ['loyalty/v1/cards.proto', 'loyalty/v1/admin.proto', 'loyalty/v1/fiscal.proto', 'grpc/health/v1/health.proto', 'grpc/reflection/v1/reflection.proto'],
  { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [PROTOS] });
const pkg = grpc.loadPackageDefinition(definition);

// Clients may send more than the server accepts: the oversize check needs a 5 MiB request.
const channelOptions = { 'grpc.max_send_message_length': -1, 'grpc.max_receive_message_length': -1 };
const creds = grpc.credentials.createInsecure();
const cards = new pkg.loyalty.v1.Cards(ADDR, creds, channelOptions);
const admin = new pkg.loyalty.v1.Admin(ADDR, creds, channelOptions);
const health = new pkg.grpc.health.v1.Health(ADDR, creds, channelOptions);
const fiscal = new pkg.loyalty.v1.Fiscal(ADDR, creds, channelOptions);
const raw = new grpc.Client(ADDR, creds, channelOptions);

const STATUS = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));

// ---- helpers --------------------------------------------------------------------------------

let failures = 0;
let checks = 0;

/** Comparison form: JSON, so arrays and objects compare deeply and "1" differs from 1. */
function show(v) {
  return JSON.stringify(v) ?? String(v);
}

/** Display form: like show, but a plain string is printed as it is. */
function display(v) {
  const s = typeof v === 'string' ? v : show(v);
  return s.length > 300 ? s.slice(0, 300) + '...' : s;
}

/** One check: prints ok/FAIL; compares by JSON form, so arrays and objects compare deeply. */
function check(name, expected, actual) {
  checks++;
  if (show(expected) === show(actual)) {
    console.log(`ok   ${name}`);
    return true;
  }
  failures++;
  console.log(`FAIL ${name}: expected ${display(expected)} got ${display(actual)}`);
  return false;
}

function fail(name, message) {
  checks++;
  failures++;
  console.log(`FAIL ${name}: ${message}`);
}

function describeError(e) {
  return e && e.code !== undefined ? `${STATUS[e.code] ?? e.code} (${e.details})` : String(e);
}

function metadata(key) {
  const md = new grpc.Metadata();
  if (key) md.set('authorization', `Bearer ${key}`);
  return md;
}

/** A unary call as a promise. */
function call(client, method, request, key, options = {}) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata(key), options, (err, reply) => (err ? reject(err) : resolve(reply)));
  });
}

/** A unary call that must succeed: returns the reply, or undefined after printing a FAIL. */
async function must(name, client, method, request, key) {
  try {
    return await call(client, method, request, key);
  } catch (e) {
    fail(name, `expected OK got ${describeError(e)}`);
    return undefined;
  }
}

/** A call that must fail with the given status code. */
async function expectStatus(name, code, promiseFn) {
  try {
    await promiseFn();
    check(name, STATUS[code], 'OK');
  } catch (e) {
    check(name, STATUS[code], e && e.code !== undefined ? STATUS[e.code] ?? e.code : String(e));
    if (e && e.code !== code) console.log(`     (message: ${e.details})`);
  }
}

/** The same key with its last character changed: well-formed, but not a key the server made. */
const wrongSecret = (key) => key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A');
const num = (x) => (x === undefined || x === null ? x : Number(x));
const sum = (xs) => (xs || []).reduce((a, x) => a + Number(x), 0);
const tsMillis = (ts) => (ts ? Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6) : undefined);

// ---- data of this run -----------------------------------------------------------------------

const run = Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
const card = `N${run}`.toUpperCase();
const storeA = `store-a-${run}`;
const storeB = `store-b-${run}`;
const op = (what) => `node-${what}-${run}`;
const ref = (store, number) => ({ store_id: store, register_id: 'reg-1', shift_number: 1, receipt_number: number });

// Receipt 1: 1000.00 in two lines.
const receipt1 = {
  ref: ref(storeA, 1),
  lines: [
    { sku: 'sku-1', category: 'food', name: 'Coffee beans 1 kg', quantity_milli: 1000, price: 60000, amount: 60000 },
    { sku: 'sku-2', category: 'food', name: 'Tea 2 x 200 g', quantity_milli: 2000, price: 20000, amount: 40000 },
  ],
};
// Receipt 2: 500.00 in one line, redeemed then cancelled.
const receipt2 = {
  ref: ref(storeA, 2),
  lines: [{ sku: 'sku-3', category: 'food', name: 'Chocolate', quantity_milli: 1000, price: 50000, amount: 50000 }],
};
// Receipt 3: 100 000.00, used by the refusal checks.
const receipt3 = {
  ref: ref(storeA, 3),
  lines: [{ sku: 'sku-4', category: 'electronics', name: 'TV set', quantity_milli: 1000, price: 10000000, amount: 10000000 }],
};

// ---- the POS flow ---------------------------------------------------------------------------

async function posFlow() {
  console.log(`# POS flow (card ${card}, stores ${storeA} / ${storeB})`);
  const keyA = await must('create pos key for store A', admin, 'CreateApiKey', { role: 'pos', store_id: storeA, name: `conformance node ${run} A` }, ADMIN_KEY);
  const keyB = await must('create pos key for store B', admin, 'CreateApiKey', { role: 'pos', store_id: storeB, name: `conformance node ${run} B` }, ADMIN_KEY);
  const keyAcc = await must('create accountant key', admin, 'CreateApiKey', { role: 'accountant', name: `conformance node ${run} acc` }, ADMIN_KEY);
  if (keyA) check('pos key A is returned and bound to store A', [true, storeA], [keyA.api_key.length > 0, keyA.store_id]);
  if (keyB) check('pos key B is bound to store B', storeB, keyB.store_id);
  if (keyAcc) check('accountant key is returned', true, keyAcc.api_key.length > 0);
  const keys = { a: keyA?.api_key, b: keyB?.api_key, acc: keyAcc?.api_key };

  const issued = await must('IssueCard', admin, 'IssueCard', { card_number: card }, ADMIN_KEY);
  check('IssueCard: active card with zero balance', [card, 'CARD_STATUS_ACTIVE', 0], [issued?.card_number, issued?.status, num(issued?.balance)]);

  const adjusted = await must('Adjust +1000.00', admin, 'Adjust', { operation_id: op('adjust'), card_number: card, amount: 100000, reason: 'conformance top-up' }, ADMIN_KEY);
  check('Adjust +1000.00: balance and available', [100000, 100000], [num(adjusted?.balance), num(adjusted?.available)]);

  const quote = await must('Quote', cards, 'Quote', { card_number: card, receipt: receipt1, requested_redeem: 10000 }, keys.a);
  check('Quote: max_redeem is 30 % of 1000.00', 30000, num(quote?.max_redeem));
  check('Quote: redeem is the requested 100.00', 10000, num(quote?.redeem));
  check('Quote: line discounts in proportion to line amounts', [6000, 4000], (quote?.lines || []).map((l) => num(l.discount)));
  check('Quote: line discounts sum to redeem', num(quote?.redeem), sum(quote?.lines?.map((l) => l.discount)));
  check('Quote: amount_after = amount - discount', [54000, 36000], (quote?.lines || []).map((l) => num(l.amount_after)));
  check('Quote: accrual is 5 % of the money-paid part', 4500, num(quote?.accrual));

  const before = Date.now();
  const redeemReq = { operation_id: op('redeem-1'), card_number: card, receipt: receipt1, amount: 10000 };
  const hold = await must('Redeem 100.00 (store A key)', cards, 'Redeem', redeemReq, keys.a);
  check('Redeem: hold_id is set', true, !!hold?.hold_id);
  check('Redeem: amount', 10000, num(hold?.amount));
  check('Redeem: line discounts sum to amount', 10000, sum(hold?.lines?.map((l) => l.discount)));
  const expires = tsMillis(hold?.expires_at);
  check('Redeem: expires_at is in the future, about 900 s away',
    true, expires > before && expires <= Date.now() + 900_000 + 60_000);
  check('Redeem: card held and available', [10000, 90000], [num(hold?.card?.held), num(hold?.card?.available)]);
  const holdAgain = await must('Redeem retried', cards, 'Redeem', redeemReq, keys.a);
  check('Redeem retried with the same operation id: identical reply', show(hold), show(holdAgain));

  const commitReq = { operation_id: op('commit-1'), card_number: card, receipt: receipt1, hold_id: hold?.hold_id ?? '' };
  const committed = await must('Commit', cards, 'Commit', commitReq, keys.a);
  check('Commit: redeemed', 10000, num(committed?.redeemed));
  check('Commit: accrued = 5 % of 900.00 rounded down', 4500, num(committed?.accrued));
  check('Commit: balance, held, available', [94500, 0, 94500],
    [num(committed?.card?.balance), num(committed?.card?.held), num(committed?.card?.available)]);
  const committedAgain = await must('Commit retried', cards, 'Commit', commitReq, keys.a);
  check('Commit retried with the same operation id: identical reply', show(committed), show(committedAgain));
  const afterRetry = await must('GetCard after the retry', cards, 'GetCard', { card_number: card }, keys.a);
  check('GetCard after the retry: balance and version unchanged', [94500, num(committed?.card?.version)],
    [num(afterRetry?.balance), num(afterRetry?.version)]);

  // Half of line sku-2 comes back: it had a discount of 40.00 and an accrual of 18.00.
  const refund = await must('Refund half of sku-2', cards, 'Refund',
    { operation_id: op('refund-1'), card_number: card, original: receipt1.ref, lines: [{ sku: 'sku-2', quantity_milli: 1000 }] }, keys.a);
  check('Refund: accrual_reversed and redeem_restored are positive',
    [true, true], [num(refund?.accrual_reversed) > 0, num(refund?.redeem_restored) > 0]);
  check('Refund: proportional (half of 18.00 accrual, half of 40.00 discount)',
    [900, 2000], [num(refund?.accrual_reversed), num(refund?.redeem_restored)]);
  check('Refund: balance', 95600, num(refund?.card?.balance));

  const hold2 = await must('Redeem 50.00 on a second receipt', cards, 'Redeem',
    { operation_id: op('redeem-2'), card_number: card, receipt: receipt2, amount: 5000 }, keys.a);
  check('Redeem 2: held and available', [5000, 5000, 90600],
    [num(hold2?.amount), num(hold2?.card?.held), num(hold2?.card?.available)]);
  const cancelled = await must('Cancel', cards, 'Cancel', { operation_id: op('cancel-2'), hold_id: hold2?.hold_id ?? '' }, keys.a);
  check('Cancel: released = held amount', 5000, num(cancelled?.released));
  check('Cancel: held 0, available restored', [0, 95600], [num(cancelled?.card?.held), num(cancelled?.card?.available)]);

  const statement = await must('GetStatement', admin, 'GetStatement', { card_number: card, page_size: 100 }, ADMIN_KEY);
  const entries = statement?.entries || [];
  check('GetStatement: has entries, all of this card', true, entries.length > 0 && entries.every((e) => e.card_number === card));
  const versions = entries.map((e) => num(e.version_after));
  const ats = entries.map((e) => tsMillis(e.at));
  check('GetStatement: newest first (version_after and at non-increasing)', true,
    versions.every((v, i) => i === 0 || v <= versions[i - 1]) && ats.every((t, i) => i === 0 || t <= ats[i - 1]));
  check('GetStatement: newest entry is the hold void, oldest the adjustment',
    ['LEDGER_KIND_HOLD_VOID', 'LEDGER_KIND_ADJUSTMENT'], [entries[0]?.kind, entries[entries.length - 1]?.kind]);
  check('GetStatement: newest balance_after', 95600, num(entries[0]?.balance_after));

  await healthChecks();
  return keys;
}

async function healthChecks() {
  const serving = await must('Health Check "" (no key)', health, 'Check', { service: '' }, undefined);
  check('Health Check "": SERVING', 'SERVING', serving?.status);
  await expectStatus('Health Check of an unknown service: NOT_FOUND', grpc.status.NOT_FOUND,
    () => call(health, 'Check', { service: 'no.such.Service' }, undefined));

  // Watch: the first message is the current status; then the client cancels.
  const result = await new Promise((resolve) => {
    const stream = health.Watch({ service: '' }, metadata(undefined), { deadline: Date.now() + 10_000 });
    const got = { first: undefined, end: undefined };
    stream.on('data', (m) => {
      if (got.first === undefined) {
        got.first = m.status;
        stream.cancel();
      }
    });
    stream.on('error', (e) => { got.end = STATUS[e.code]; resolve(got); });
    stream.on('end', () => { if (got.end === undefined) got.end = 'OK'; resolve(got); });
  });
  check('Health Watch: first message SERVING', 'SERVING', result.first);
  check('Health Watch: ends CANCELLED after the client cancels', 'CANCELLED', result.end);
}

// ---- reflection ------------------------------------------------------------------------------

/** Sends the requests on one ServerReflectionInfo stream (v1 or v1alpha path), returns the replies. */
function reflect(servicePath, requests) {
  const method = definition['grpc.reflection.v1.ServerReflection'].ServerReflectionInfo;
  return new Promise((resolve) => {
    const replies = [];
    const stream = raw.makeBidiStreamRequest(`/${servicePath}/ServerReflectionInfo`,
      method.requestSerialize, method.responseDeserialize, new grpc.Metadata(), { deadline: Date.now() + 10_000 });
    stream.on('data', (m) => replies.push(m));
    stream.on('error', (e) => resolve({ replies, end: STATUS[e.code] }));
    stream.on('end', () => resolve({ replies, end: 'OK' }));
    for (const r of requests) stream.write(r);
    stream.end();
  });
}

async function reflectionChecks() {
  for (const version of ['grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection']) {
    const { replies, end } = await reflect(version, [
      { list_services: '' },
      { file_containing_symbol: 'loyalty.v1.Cards' },
      { file_containing_symbol: 'loyalty.v1.Admin.Adjust' },
      { file_by_filename: 'no/such.proto' },
    ]);
    check(`${version}: four replies, then OK`, [4, 'OK'], [replies.length, end]);
    const services = (replies[0]?.list_services_response?.service ?? []).map((s) => s.name);
    check(`${version}: lists the Cards, Admin and Health services`, true,
      ['loyalty.v1.Cards', 'loyalty.v1.Admin', 'grpc.health.v1.Health'].every((n) => services.includes(n)));
    const files = replies[1]?.file_descriptor_response?.file_descriptor_proto ?? [];
    check(`${version}: Cards comes in cards.proto with its dependencies`, [true, true, true],
      ['loyalty/v1/cards.proto', 'loyalty/v1/common.proto', 'google/protobuf/timestamp.proto']
        .map((name) => files.some((f) => Buffer.from(f).includes(name))));
    const adjust = replies[2]?.file_descriptor_response?.file_descriptor_proto ?? [];
    check(`${version}: a method symbol finds its file`, true, adjust.length > 0 && Buffer.from(adjust[0]).includes('loyalty/v1/admin.proto'));
    check(`${version}: an unknown file is NOT_FOUND inside the stream`, grpc.status.NOT_FOUND, replies[3]?.error_response?.error_code);
  }
}

// ---- status codes ---------------------------------------------------------------------------

async function statusChecks(keys) {
  console.log('# status codes');
  const C = grpc.status;
  await expectStatus('no key: UNAUTHENTICATED', C.UNAUTHENTICATED,
    () => call(cards, 'GetCard', { card_number: card }, undefined));
  await expectStatus('garbage key: UNAUTHENTICATED', C.UNAUTHENTICATED,
    () => call(cards, 'GetCard', { card_number: card }, `no-such-key-${run}`));
  await expectStatus('admin key with a wrong secret: UNAUTHENTICATED', C.UNAUTHENTICATED,
    () => call(cards, 'GetCard', { card_number: card }, wrongSecret(ADMIN_KEY)));
  await expectStatus('pos key calling Admin/IssueCard: PERMISSION_DENIED', C.PERMISSION_DENIED,
    () => call(admin, 'IssueCard', { card_number: `${card}X` }, keys.a));
  await expectStatus('accountant key calling Cards/Redeem: PERMISSION_DENIED', C.PERMISSION_DENIED,
    () => call(cards, 'Redeem', { operation_id: op('acc-redeem'), card_number: card, receipt: receipt3, amount: 100 }, keys.acc));
  await expectStatus('store B key redeeming on a store A receipt: PERMISSION_DENIED', C.PERMISSION_DENIED,
    () => call(cards, 'Redeem', { operation_id: op('b-redeem'), card_number: card, receipt: receipt3, amount: 100 }, keys.b));
  await expectStatus('unknown card: NOT_FOUND', C.NOT_FOUND,
    () => call(cards, 'GetCard', { card_number: `NOSUCH${run}`.toUpperCase() }, ADMIN_KEY));
  await expectStatus('unknown hold: NOT_FOUND', C.NOT_FOUND,
    () => call(cards, 'Cancel', { operation_id: op('cancel-unknown'), hold_id: `H${card}-0000000000000000` }, ADMIN_KEY));
  await expectStatus('redeeming more than available: FAILED_PRECONDITION', C.FAILED_PRECONDITION,
    () => call(cards, 'Redeem', { operation_id: op('too-much'), card_number: card, receipt: receipt3, amount: 2000000 }, keys.a));
  await expectStatus('same operation id, different payload: ALREADY_EXISTS', C.ALREADY_EXISTS,
    () => call(admin, 'Adjust', { operation_id: op('adjust'), card_number: card, amount: 200, reason: 'conformance top-up' }, ADMIN_KEY));
  await expectStatus('malformed protobuf bytes: INVALID_ARGUMENT', C.INVALID_ARGUMENT,
    () => new Promise((resolve, reject) => raw.makeUnaryRequest('/loyalty.v1.Cards/GetCard', (b) => b, (b) => b,
      Buffer.from([0xff, 0xff, 0xff]), metadata(ADMIN_KEY), {}, (err, reply) => (err ? reject(err) : resolve(reply)))));
  const huge = { ref: receipt3.ref, lines: [{ ...receipt3.lines[0], name: 'x'.repeat(5 * 1024 * 1024) }] };
  await expectStatus('request over 4 MiB: RESOURCE_EXHAUSTED', C.RESOURCE_EXHAUSTED,
    () => call(cards, 'Quote', { card_number: card, receipt: huge }, ADMIN_KEY));
  await expectStatus('unknown method: UNIMPLEMENTED', C.UNIMPLEMENTED,
    () => new Promise((resolve, reject) => raw.makeUnaryRequest('/loyalty.v1.Cards/NoSuchMethod', (b) => b, (b) => b,
      Buffer.alloc(0), metadata(ADMIN_KEY), {}, (err, reply) => (err ? reject(err) : resolve(reply)))));
  await expectStatus('deadline already passed: DEADLINE_EXCEEDED', C.DEADLINE_EXCEEDED,
    () => call(cards, 'GetCard', { card_number: card }, ADMIN_KEY, { deadline: Date.now() - 1000 }));
  await expectStatus('Health Watch with a 300 ms deadline: DEADLINE_EXCEEDED', C.DEADLINE_EXCEEDED,
    () => new Promise((resolve, reject) => {
      const stream = health.Watch({ service: '' }, metadata(undefined), { deadline: Date.now() + 300 });
      stream.on('data', () => {});
      stream.on('error', reject);
      stream.on('end', resolve);
    }));
  await expectStatus('Redeem amount -5: INVALID_ARGUMENT', C.INVALID_ARGUMENT,
    () => call(cards, 'Redeem', { operation_id: op('negative'), card_number: card, receipt: receipt3, amount: -5 }, keys.a));

  const alive = await must('GetCard after the refusals', cards, 'GetCard', { card_number: card }, ADMIN_KEY);
  check('server still answers GetCard, balance unchanged', [card, 95600], [alive?.card_number, num(alive?.balance)]);
}

// ---- fiscal printing through an office register (issue 13's fixed names) ----------------------

/** The first task of the office register's feed (ReceivePrintJobs, a server stream), then the stream is cancelled. */
function firstTask(request, key) {
  return new Promise((resolve, reject) => {
    const stream = fiscal.ReceivePrintJobs(request, metadata(key), { deadline: Date.now() + 10000 });
    let first;
    stream.on('data', (task) => { if (!first) { first = task; resolve(task); stream.cancel(); } });
    stream.on('error', (e) => { if (!first) reject(e); });
    stream.on('end', () => { if (!first) reject(new Error('the feed ended without a task')); });
  });
}

async function fiscalChecks(keys) {
  console.log("# fiscal: a driver's sale with held bonuses, printed on an office register");
  const C = grpc.status;
  const fiscalCard = `${card}F`;
  const office = `office-${run}`;
  await must('IssueCard for the fiscal sale', admin, 'IssueCard', { card_number: fiscalCard }, ADMIN_KEY);
  await must('Adjust +1000.00 for the fiscal sale', admin, 'Adjust', { operation_id: op('fiscal-topup'), card_number: fiscalCard, amount: 100000, reason: 'conformance' }, ADMIN_KEY);
  const heldReceipt = {
    ref: ref(storeA, 40),
    lines: [
      { sku: 'w19', category: 'water', name: 'Water 19 l', quantity_milli: 3000, price: 35000, amount: 105000 },
      { sku: 'pump', category: 'goods', name: 'Pump', quantity_milli: 1000, price: 33333, amount: 33333 },
    ],
  };
  const hold = await must('Redeem 100.00 for the sale', cards, 'Redeem', { operation_id: op('fiscal-hold'), card_number: fiscalCard, receipt: heldReceipt, amount: 10000 }, keys.a);
  const after = Object.fromEntries((hold?.lines || []).map((l) => [l.sku, num(l.amount_after)]));
  const discount = Object.fromEntries((hold?.lines || []).map((l) => [l.sku, num(l.discount)]));
  // SubmitReceiptRequest.receipt: line amounts AFTER the bonus discounts; payments add up to them.
  const printed = { ref: heldReceipt.ref, lines: heldReceipt.lines.map((l) => ({ ...l, amount: after[l.sku] ?? 0 })) };
  const money = sum(Object.values(after));
  const sale = {
    operation_id: op('fiscal-sale'), office_register_id: office, receipt: printed, hold_id: hold?.hold_id ?? '',
    payments: [{ type: 'FISCAL_PAYMENT_KIND_CARD', amount: money }], delivery: 'RECEIPT_DELIVERY_PAPER',
    lines: [{ sku: 'w19', vat: 'VAT_RATE_KIND_VAT20' }],
    customer: { name: 'OOO Romashka', inn: '7707083893', delivery_address: { ofd_contact: '-', phones: ['8 (495) 123-45-67', '8 916 123-45-67'] } },
  };

  const job = await must('SubmitReceipt', fiscal, 'SubmitReceipt', sale, keys.a);
  check('SubmitReceipt: queued, with a job id, for the office register', ['PRINT_JOB_STATE_QUEUED', true, office], [job?.state, Boolean(job?.job_id), job?.office_register_id]);
  const again = await must('SubmitReceipt retried', fiscal, 'SubmitReceipt', sale, keys.a);
  check('SubmitReceipt retried with the same operation id: the same job', job?.job_id, again?.job_id);
  await expectStatus('SubmitReceipt: same operation id, another delivery: ALREADY_EXISTS', C.ALREADY_EXISTS,
    () => call(fiscal, 'SubmitReceipt', { ...sale, delivery: 'RECEIPT_DELIVERY_EMAIL' }, keys.a));
  await expectStatus('SubmitReceipt with line amounts before the bonuses: INVALID_ARGUMENT', C.INVALID_ARGUMENT,
    () => call(fiscal, 'SubmitReceipt', { ...sale, operation_id: op('fiscal-before'), receipt: heldReceipt, payments: [{ type: 'FISCAL_PAYMENT_KIND_CARD', amount: 138333 }] }, keys.a));
  await expectStatus('SubmitReceipt whose payments do not add up to the lines: INVALID_ARGUMENT', C.INVALID_ARGUMENT,
    () => call(fiscal, 'SubmitReceipt', { ...sale, operation_id: op('fiscal-short'), payments: [{ type: 'FISCAL_PAYMENT_KIND_CARD', amount: money - 1 }] }, keys.a));
  await expectStatus('SubmitReceipt with an INN failing its control digit: INVALID_ARGUMENT', C.INVALID_ARGUMENT,
    () => call(fiscal, 'SubmitReceipt', { ...sale, operation_id: op('fiscal-inn'), customer: { inn: '7707083894' } }, keys.a));
  await expectStatus('SubmitReceipt of a store A receipt with the store B key: PERMISSION_DENIED', C.PERMISSION_DENIED,
    () => call(fiscal, 'SubmitReceipt', { ...sale, operation_id: op('fiscal-b') }, keys.b));

  const officeKey = (await must("create the office register's own key", admin, 'CreateApiKey',
    { role: 'pos', store_id: storeA, name: `conformance node ${run} office`, office_register_id: office }, ADMIN_KEY))?.api_key;
  let task;
  try {
    task = await firstTask({ store_id: storeA, office_register_id: office }, officeKey);
  } catch (e) {
    fail('ReceivePrintJobs: first task', describeError(e));
  }
  check('ReceivePrintJobs: the office adapter gets the job', job?.job_id, task?.job_id);
  check("ReceivePrintJobs: line amounts after the discounts, and the hold's discount per line",
    [[after.w19, after.pump], { w19: discount.w19, pump: discount.pump }],
    task ? [task.receipt.lines.map((l) => num(l.amount)), Object.fromEntries(task.lines.map((l) => [l.sku, num(l.bonus_discount)]))] : undefined);

  const report = {
    job_id: job?.job_id ?? '', outcome: 'PRINT_OUTCOME_DONE', contact_used: '+79161234567', fiscal_document_number: 17,
    fiscal_sign: '3512345678', fn_number: '9999078900001234', shift_number: 3, fiscal_receipt_number: 5,
    document_date_time: '2026-12-06T12:00:00+03:00', total: money,
    qr_code: `t=20261206T1200&s=${Math.floor(money / 100)}.${String(money % 100).padStart(2, '0')}&fn=9999078900001234&i=17&fp=3512345678&n=1`,
  };
  await expectStatus("ReportPrintResult with a driver's key: PERMISSION_DENIED", C.PERMISSION_DENIED,
    () => call(fiscal, 'ReportPrintResult', report, keys.a));
  const reported = await must('ReportPrintResult done', fiscal, 'ReportPrintResult', report, officeKey);
  check('ReportPrintResult: done with its fiscal data and the contact of tag 1008', ['PRINT_JOB_STATE_DONE', 17, '3512345678', '+79161234567'],
    [reported?.state, num(reported?.fiscal_document_number), reported?.fiscal_sign, reported?.contact_used]);
  const read = await must('GetPrintJob', fiscal, 'GetPrintJob', { job_id: job?.job_id ?? '' }, keys.a);
  check('GetPrintJob: done, the hold committed', ['PRINT_JOB_STATE_DONE', 'committed', 17], [read?.state, read?.bonuses, num(read?.fiscal_document_number)]);
  const twice = await must('ReportPrintResult repeated', fiscal, 'ReportPrintResult', report, officeKey);
  check('ReportPrintResult repeated: the same job', [read?.state, tsMillis(read?.updated_at)], [twice?.state, tsMillis(twice?.updated_at)]);
  await expectStatus('ReportPrintResult of another fiscal document for a done job: FAILED_PRECONDITION', C.FAILED_PRECONDITION,
    () => call(fiscal, 'ReportPrintResult', { ...report, fiscal_document_number: 18 }, officeKey));
  const afterCard = await must('GetCard after the fiscal sale', cards, 'GetCard', { card_number: fiscalCard }, keys.a);
  check('GetCard after the fiscal sale: nothing held', 0, num(afterCard?.held));
  const statement = await must('GetStatement after the fiscal sale', admin, 'GetStatement', { card_number: fiscalCard, page_size: 100 }, ADMIN_KEY);
  check('GetStatement: the hold posted once, 100.00', [-10000], (statement?.entries || []).filter((e) => e.kind === 'LEDGER_KIND_HOLD_POST').map((e) => num(e.amount)));
}

// ---- main -----------------------------------------------------------------------------------

async function main() {
  console.log(`# @grpc/grpc-js ${require('@grpc/grpc-js/package.json').version} against ${ADDR}`);
  try {
    const keys = await posFlow();
    await reflectionChecks();
    await statusChecks(keys);
    await fiscalChecks(keys);
  } catch (e) {
    fail('suite', `unexpected exception ${e && e.stack ? e.stack : e}`);
  }
  console.log(`# node: ${checks - failures} of ${checks} checks passed`);
  for (const c of [cards, admin, health, fiscal, raw]) c.close();
  process.exit(failures === 0 ? 0 : 1);
}

main();
