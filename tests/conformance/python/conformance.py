#!/usr/bin/python3
"""Conformance checks of the Loyalty gRPC server with Debian's python3-grpcio (the C core).

    LOYALTY_GRPC_ADDR=127.0.0.1:5001 LOYALTY_ADMIN_KEY=... /usr/bin/python3 conformance.py \
        [--descriptor-set loyalty.pb]

There is no grpcio-tools here, so the message classes are built at run time from a
FileDescriptorSet. Without --descriptor-set, the script makes one itself with the protoc shipped in
the Grpc.Tools NuGet package (or $PROTOC). Prints one line per check ("ok   name" /
"FAIL name: expected X got Y") and exits 1 when any check failed. Card numbers and store ids are
fresh per run, so it can be run again and again against one server.
"""
import argparse
import glob
import os
import platform
import random
import string
import subprocess
import sys
import tempfile
import time

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

HERE = os.path.dirname(os.path.abspath(__file__))
PROTOS = os.path.normpath(os.path.join(HERE, "..", "..", "..", "protos"))
PROTO_FILES = ["loyalty/v1/cards.proto", "loyalty/v1/admin.proto", "loyalty/v1/fiscal.proto", "grpc/health/v1/health.proto", "grpc/reflection/v1/reflection.proto"]

# ---- contract -------------------------------------------------------------------------------


def find_protoc():
    """protoc and its well-known-types include dir, from $PROTOC or the Grpc.Tools NuGet package."""
    arch = {"x86_64": "linux_x64", "amd64": "linux_x64", "aarch64": "linux_arm64", "arm64": "linux_arm64"}.get(
        platform.machine().lower(), "linux_x64")
    roots = [os.environ.get("NUGET_PACKAGES"), os.path.expanduser("~/.nuget/packages"), "/root/.nuget/packages"]
    for root in filter(None, roots):
        for tools in sorted(glob.glob(os.path.join(root, "grpc.tools", "*")), reverse=True):
            protoc = os.path.join(tools, "tools", arch, "protoc")
            if os.path.exists(protoc):
                return os.environ.get("PROTOC", protoc), os.path.join(tools, "build", "native", "include")
    if os.environ.get("PROTOC"):
        return os.environ["PROTOC"], None
    sys.exit("no protoc: restore the solution (Grpc.Tools) or set PROTOC, or pass --descriptor-set")


def build_descriptor_set(out):
    protoc, wkt = find_protoc()
    args = [protoc, "-I" + PROTOS] + (["-I" + wkt] if wkt else []) + [
        "--include_imports", "--descriptor_set_out=" + out] + PROTO_FILES
    subprocess.run(args, check=True, cwd=PROTOS)


def load_messages(descriptor_set_path):
    fds = descriptor_pb2.FileDescriptorSet()
    with open(descriptor_set_path, "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for file_proto in fds.file:  # --include_imports lists dependencies first
        pool.Add(file_proto)

    def message_class(full_name):
        descriptor = pool.FindMessageTypeByName(full_name)
        if hasattr(message_factory, "GetMessageClass"):  # protobuf >= 4.22
            return message_factory.GetMessageClass(descriptor)
        return message_factory.MessageFactory(pool).GetPrototype(descriptor)

    return message_class


# ---- helpers --------------------------------------------------------------------------------

failures = 0
checks = 0


def check(name, expected, actual):
    global failures, checks
    checks += 1
    if expected == actual:
        print("ok   " + name, flush=True)
        return True
    failures += 1
    print("FAIL %s: expected %s got %s" % (name, display(expected), display(actual)), flush=True)
    return False


def display(value):
    """A plain string as it is, anything else as repr; cut at 300 characters."""
    shown = value if isinstance(value, str) else repr(value)
    return shown if len(shown) <= 300 else shown[:300] + "..."


def wrong_secret(key):
    """The same key with its last character changed: well-formed, but not a key the server made."""
    return key[:-1] + ("B" if key.endswith("A") else "A")


def fail(name, message):
    global failures, checks
    checks += 1
    failures += 1
    print("FAIL %s: %s" % (name, message), flush=True)


def metadata(key):
    return [("authorization", "Bearer " + key)] if key else []


def describe(e):
    if isinstance(e, grpc.RpcError):
        return "%s (%s)" % (e.code().name, e.details())
    return repr(e)


def must(name, fn):
    """A call that must succeed: returns the reply, or None after printing a FAIL."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - any failure is a failed check
        fail(name, "expected OK got " + describe(e))
        return None


def expect_status(name, code, fn):
    """A call that must fail with the given grpc.StatusCode."""
    try:
        fn()
        check(name, code.name, "OK")
    except grpc.RpcError as e:
        check(name, code.name, e.code().name)
        if e.code() != code:
            print("     (message: %s)" % e.details(), flush=True)
    except Exception as e:  # noqa: BLE001
        fail(name, "expected %s got exception %r" % (code.name, e))


def get(obj, *path):
    """obj.a.b... or None when a step is missing (after an earlier failure)."""
    for p in path:
        if obj is None:
            return None
        obj = getattr(obj, p)
    return obj


# ---- the suite ------------------------------------------------------------------------------


class Suite:
    def __init__(self, addr, admin_key, message_class):
        self.admin_key = admin_key
        self.M = message_class
        options = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
        self.channel = grpc.insecure_channel(addr, options=options)
        self.run = "%x%s" % (int(time.time() * 1000), "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(6)))
        self.card = ("P" + self.run).upper()
        self.store_a = "store-a-" + self.run
        self.store_b = "store-b-" + self.run

    def op(self, what):
        return "py-%s-%s" % (what, self.run)

    def rpc(self, path, request_type, reply_type):
        return self.channel.unary_unary(
            path,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=self.M(reply_type).FromString)

    def call(self, path, request_type, reply_type, key, fields, timeout=None):
        """A unary call of `path` with a request of `request_type` made from the dict `fields`."""
        stub = self.rpc(path, request_type, reply_type)
        return stub(self.M(request_type)(**fields), metadata=metadata(key), timeout=timeout)

    # typed shortcuts
    def cards(self, method, key, timeout=None, **fields):
        types = {
            "GetCard": ("GetCardRequest", "Card"), "Quote": ("QuoteRequest", "QuoteReply"),
            "Redeem": ("RedeemRequest", "RedeemReply"), "Commit": ("CommitRequest", "CommitReply"),
            "Cancel": ("CancelRequest", "CancelReply"), "Refund": ("RefundRequest", "RefundReply"),
        }[method]
        return self.call("/loyalty.v1.Cards/" + method, "loyalty.v1." + types[0], "loyalty.v1." + types[1], key, fields, timeout)

    def admin(self, method, key, **fields):
        types = {
            "CreateApiKey": ("CreateApiKeyRequest", "CreateApiKeyReply"), "IssueCard": ("IssueCardRequest", "Card"),
            "Adjust": ("AdjustRequest", "Card"), "GetStatement": ("GetStatementRequest", "GetStatementReply"),
        }[method]
        return self.call("/loyalty.v1.Admin/" + method, "loyalty.v1." + types[0], "loyalty.v1." + types[1], key, fields)

    def ref(self, store, number):
        return self.M("loyalty.v1.ReceiptRef")(store_id=store, register_id="reg-1", shift_number=1, receipt_number=number)

    def receipt(self, store, number, lines):
        Line = self.M("loyalty.v1.ReceiptLine")
        return self.M("loyalty.v1.Receipt")(ref=self.ref(store, number), lines=[Line(**l) for l in lines])

    def enum_name(self, message_full_name, field, value):
        return self.M(message_full_name).DESCRIPTOR.fields_by_name[field].enum_type.values_by_number[value].name

    # ---- POS flow ----

    def pos_flow(self):
        print("# POS flow (card %s, stores %s / %s)" % (self.card, self.store_a, self.store_b), flush=True)
        A = self.admin_key
        self.receipt1 = self.receipt(self.store_a, 1, [
            dict(sku="sku-1", category="food", name="Coffee beans 1 kg", quantity_milli=1000, price=60000, amount=60000),
            dict(sku="sku-2", category="food", name="Tea 2 x 200 g", quantity_milli=2000, price=20000, amount=40000)])
        self.receipt2 = self.receipt(self.store_a, 2, [
            dict(sku="sku-3", category="food", name="Chocolate", quantity_milli=1000, price=50000, amount=50000)])
        self.receipt3 = self.receipt(self.store_a, 3, [
            dict(sku="sku-4", category="electronics", name="TV set", quantity_milli=1000, price=10000000, amount=10000000)])

        key_a = must("create pos key for store A", lambda: self.admin("CreateApiKey", A, role="pos", store_id=self.store_a, name="conformance py %s A" % self.run))
        key_b = must("create pos key for store B", lambda: self.admin("CreateApiKey", A, role="pos", store_id=self.store_b, name="conformance py %s B" % self.run))
        key_acc = must("create accountant key", lambda: self.admin("CreateApiKey", A, role="accountant", name="conformance py %s acc" % self.run))
        if key_a:
            check("pos key A is returned and bound to store A", [True, self.store_a], [len(key_a.api_key) > 0, key_a.store_id])
        if key_b:
            check("pos key B is bound to store B", self.store_b, key_b.store_id)
        if key_acc:
            check("accountant key is returned", True, len(key_acc.api_key) > 0)
        self.key_a, self.key_b, self.key_acc = get(key_a, "api_key"), get(key_b, "api_key"), get(key_acc, "api_key")
        ka = self.key_a

        issued = must("IssueCard", lambda: self.admin("IssueCard", A, card_number=self.card))
        status = self.enum_name("loyalty.v1.Card", "status", issued.status) if issued else None
        check("IssueCard: active card with zero balance", [self.card, "CARD_STATUS_ACTIVE", 0],
              [get(issued, "card_number"), status, get(issued, "balance")])

        adjusted = must("Adjust +1000.00", lambda: self.admin("Adjust", A, operation_id=self.op("adjust"), card_number=self.card, amount=100000, reason="conformance top-up"))
        check("Adjust +1000.00: balance and available", [100000, 100000], [get(adjusted, "balance"), get(adjusted, "available")])

        quote = must("Quote", lambda: self.cards("Quote", ka, card_number=self.card, receipt=self.receipt1, requested_redeem=10000))
        lines = list(get(quote, "lines") or [])
        check("Quote: max_redeem is 30 % of 1000.00", 30000, get(quote, "max_redeem"))
        check("Quote: redeem is the requested 100.00", 10000, get(quote, "redeem"))
        check("Quote: line discounts in proportion to line amounts", [6000, 4000], [l.discount for l in lines])
        check("Quote: line discounts sum to redeem", get(quote, "redeem"), sum(l.discount for l in lines))
        check("Quote: amount_after = amount - discount", [54000, 36000], [l.amount_after for l in lines])
        check("Quote: accrual is 5 % of the money-paid part", 4500, get(quote, "accrual"))

        before = time.time()
        redeem_fields = dict(operation_id=self.op("redeem-1"), card_number=self.card, receipt=self.receipt1, amount=10000)
        hold = must("Redeem 100.00 (store A key)", lambda: self.cards("Redeem", ka, **redeem_fields))
        check("Redeem: hold_id is set", True, bool(get(hold, "hold_id")))
        check("Redeem: amount", 10000, get(hold, "amount"))
        check("Redeem: line discounts sum to amount", 10000, sum(l.discount for l in (get(hold, "lines") or [])))
        expires = hold.expires_at.seconds + hold.expires_at.nanos / 1e9 if hold else 0
        check("Redeem: expires_at is in the future, about 900 s away", True, before < expires <= time.time() + 900 + 60)
        check("Redeem: card held and available", [10000, 90000], [get(hold, "card", "held"), get(hold, "card", "available")])
        hold_again = must("Redeem retried", lambda: self.cards("Redeem", ka, **redeem_fields))
        check("Redeem retried with the same operation id: identical reply", True, hold is not None and hold == hold_again)

        commit_fields = dict(operation_id=self.op("commit-1"), card_number=self.card, receipt=self.receipt1, hold_id=get(hold, "hold_id") or "")
        committed = must("Commit", lambda: self.cards("Commit", ka, **commit_fields))
        check("Commit: redeemed", 10000, get(committed, "redeemed"))
        check("Commit: accrued = 5 % of 900.00 rounded down", 4500, get(committed, "accrued"))
        check("Commit: balance, held, available", [94500, 0, 94500],
              [get(committed, "card", "balance"), get(committed, "card", "held"), get(committed, "card", "available")])
        committed_again = must("Commit retried", lambda: self.cards("Commit", ka, **commit_fields))
        check("Commit retried with the same operation id: identical reply", True, committed is not None and committed == committed_again)
        after_retry = must("GetCard after the retry", lambda: self.cards("GetCard", ka, card_number=self.card))
        check("GetCard after the retry: balance and version unchanged", [94500, get(committed, "card", "version")],
              [get(after_retry, "balance"), get(after_retry, "version")])

        # Half of line sku-2 comes back: it had a discount of 40.00 and an accrual of 18.00.
        Returned = self.M("loyalty.v1.ReturnedLine")
        refund = must("Refund half of sku-2", lambda: self.cards(
            "Refund", ka, operation_id=self.op("refund-1"), card_number=self.card, original=self.receipt1.ref,
            lines=[Returned(sku="sku-2", quantity_milli=1000)]))
        check("Refund: accrual_reversed and redeem_restored are positive", [True, True],
              [(get(refund, "accrual_reversed") or 0) > 0, (get(refund, "redeem_restored") or 0) > 0])
        check("Refund: proportional (half of 18.00 accrual, half of 40.00 discount)", [900, 2000],
              [get(refund, "accrual_reversed"), get(refund, "redeem_restored")])
        check("Refund: balance", 95600, get(refund, "card", "balance"))

        hold2 = must("Redeem 50.00 on a second receipt", lambda: self.cards(
            "Redeem", ka, operation_id=self.op("redeem-2"), card_number=self.card, receipt=self.receipt2, amount=5000))
        check("Redeem 2: held and available", [5000, 5000, 90600],
              [get(hold2, "amount"), get(hold2, "card", "held"), get(hold2, "card", "available")])
        cancelled = must("Cancel", lambda: self.cards("Cancel", ka, operation_id=self.op("cancel-2"), hold_id=get(hold2, "hold_id") or ""))
        check("Cancel: released = held amount", 5000, get(cancelled, "released"))
        check("Cancel: held 0, available restored", [0, 95600], [get(cancelled, "card", "held"), get(cancelled, "card", "available")])

        statement = must("GetStatement", lambda: self.admin("GetStatement", A, card_number=self.card, page_size=100))
        entries = list(get(statement, "entries") or [])
        check("GetStatement: has entries, all of this card", True, len(entries) > 0 and all(e.card_number == self.card for e in entries))
        versions = [e.version_after for e in entries]
        ats = [(e.at.seconds, e.at.nanos) for e in entries]
        check("GetStatement: newest first (version_after and at non-increasing)", True,
              all(versions[i] <= versions[i - 1] for i in range(1, len(versions))) and all(ats[i] <= ats[i - 1] for i in range(1, len(ats))))
        kind = lambda e: self.enum_name("loyalty.v1.LedgerEntry", "kind", e.kind)  # noqa: E731
        check("GetStatement: newest entry is the hold void, oldest the adjustment",
              ["LEDGER_KIND_HOLD_VOID", "LEDGER_KIND_ADJUSTMENT"], [kind(entries[0]), kind(entries[-1])] if entries else None)
        check("GetStatement: newest balance_after", 95600, entries[0].balance_after if entries else None)

        self.health_checks()

    def health_checks(self):
        Req, Resp = "grpc.health.v1.HealthCheckRequest", "grpc.health.v1.HealthCheckResponse"
        status_name = lambda r: self.enum_name(Resp, "status", r.status) if r is not None else None  # noqa: E731
        serving = must('Health Check "" (no key)', lambda: self.call("/grpc.health.v1.Health/Check", Req, Resp, None, dict(service="")))
        check('Health Check "": SERVING', "SERVING", status_name(serving))
        expect_status("Health Check of an unknown service: NOT_FOUND", grpc.StatusCode.NOT_FOUND,
                      lambda: self.call("/grpc.health.v1.Health/Check", Req, Resp, None, dict(service="no.such.Service")))

        watch = self.channel.unary_stream("/grpc.health.v1.Health/Watch",
                                          request_serializer=lambda m: m.SerializeToString(),
                                          response_deserializer=self.M(Resp).FromString)
        first, end = None, None
        try:
            stream = watch(self.M(Req)(service=""), timeout=10)
            first = status_name(next(stream))
            stream.cancel()
            for _ in stream:
                pass
            end = "OK"
        except grpc.RpcError as e:
            end = e.code().name
        except StopIteration:
            end = "ended without a message"
        check("Health Watch: first message SERVING", "SERVING", first)
        check("Health Watch: ends CANCELLED after the client cancels", "CANCELLED", end)

    # ---- reflection ----

    def reflection_checks(self):
        Req, Resp = "grpc.reflection.v1.ServerReflectionRequest", "grpc.reflection.v1.ServerReflectionResponse"
        for service in ("grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"):
            info = self.channel.stream_stream("/%s/ServerReflectionInfo" % service,
                                              request_serializer=lambda m: m.SerializeToString(),
                                              response_deserializer=self.M(Resp).FromString)
            requests = [self.M(Req)(list_services=""), self.M(Req)(file_containing_symbol="loyalty.v1.Cards"),
                        self.M(Req)(file_by_filename="no/such.proto")]
            try:
                replies = list(info(iter(requests), timeout=10))
            except grpc.RpcError as e:
                fail("%s: stream" % service, describe(e))
                continue
            check("%s: three replies" % service, 3, len(replies))
            if len(replies) != 3:
                continue
            names = [s.name for s in replies[0].list_services_response.service]
            check("%s: lists the Cards, Admin and Health services" % service, True,
                  all(n in names for n in ("loyalty.v1.Cards", "loyalty.v1.Admin", "grpc.health.v1.Health")))
            files = [descriptor_pb2.FileDescriptorProto.FromString(b).name for b in replies[1].file_descriptor_response.file_descriptor_proto]
            check("%s: Cards comes in cards.proto with its dependencies" % service,
                  ["loyalty/v1/cards.proto", "google/protobuf/timestamp.proto", "loyalty/v1/common.proto"],
                  files[:1] + sorted(files[1:]))
            check("%s: an unknown file is NOT_FOUND inside the stream" % service, 5, replies[2].error_response.error_code)

    # ---- status codes ----

    def status_checks(self):
        print("# status codes", flush=True)
        S, A, card = grpc.StatusCode, self.admin_key, self.card
        expect_status("no key: UNAUTHENTICATED", S.UNAUTHENTICATED, lambda: self.cards("GetCard", None, card_number=card))
        expect_status("garbage key: UNAUTHENTICATED", S.UNAUTHENTICATED, lambda: self.cards("GetCard", "no-such-key-" + self.run, card_number=card))
        expect_status("admin key with a wrong secret: UNAUTHENTICATED", S.UNAUTHENTICATED, lambda: self.cards("GetCard", wrong_secret(A), card_number=card))
        expect_status("pos key calling Admin/IssueCard: PERMISSION_DENIED", S.PERMISSION_DENIED,
                      lambda: self.admin("IssueCard", self.key_a, card_number=card + "X"))
        expect_status("accountant key calling Cards/Redeem: PERMISSION_DENIED", S.PERMISSION_DENIED,
                      lambda: self.cards("Redeem", self.key_acc, operation_id=self.op("acc-redeem"), card_number=card, receipt=self.receipt3, amount=100))
        expect_status("store B key redeeming on a store A receipt: PERMISSION_DENIED", S.PERMISSION_DENIED,
                      lambda: self.cards("Redeem", self.key_b, operation_id=self.op("b-redeem"), card_number=card, receipt=self.receipt3, amount=100))
        expect_status("unknown card: NOT_FOUND", S.NOT_FOUND, lambda: self.cards("GetCard", A, card_number=("NOSUCH" + self.run).upper()))
        expect_status("unknown hold: NOT_FOUND", S.NOT_FOUND,
                      lambda: self.cards("Cancel", A, operation_id=self.op("cancel-unknown"), hold_id="H%s-0000000000000000" % card))
        expect_status("redeeming more than available: FAILED_PRECONDITION", S.FAILED_PRECONDITION,
                      lambda: self.cards("Redeem", self.key_a, operation_id=self.op("too-much"), card_number=card, receipt=self.receipt3, amount=2000000))
        expect_status("same operation id, different payload: ALREADY_EXISTS", S.ALREADY_EXISTS,
                      lambda: self.admin("Adjust", A, operation_id=self.op("adjust"), card_number=card, amount=200, reason="conformance top-up"))

        raw_get_card = self.channel.unary_unary("/loyalty.v1.Cards/GetCard")  # no serializers: raw bytes
        expect_status("malformed protobuf bytes: INVALID_ARGUMENT", S.INVALID_ARGUMENT,
                      lambda: raw_get_card(b"\xff\xff\xff", metadata=metadata(A)))
        huge = self.receipt(self.store_a, 3, [dict(sku="sku-4", category="electronics", name="x" * (5 * 1024 * 1024),
                                                   quantity_milli=1000, price=10000000, amount=10000000)])
        expect_status("request over 4 MiB: RESOURCE_EXHAUSTED", S.RESOURCE_EXHAUSTED,
                      lambda: self.cards("Quote", A, card_number=card, receipt=huge))
        no_such = self.channel.unary_unary("/loyalty.v1.Cards/NoSuchMethod")
        expect_status("unknown method: UNIMPLEMENTED", S.UNIMPLEMENTED, lambda: no_such(b"", metadata=metadata(A)))
        expect_status("deadline already passed: DEADLINE_EXCEEDED", S.DEADLINE_EXCEEDED,
                      lambda: self.cards("GetCard", A, timeout=-1, card_number=card))

        watch = self.channel.unary_stream("/grpc.health.v1.Health/Watch")

        def watch_with_deadline():
            for _ in watch(self.M("grpc.health.v1.HealthCheckRequest")(service="").SerializeToString(), timeout=0.3):
                pass
        expect_status("Health Watch with a 300 ms deadline: DEADLINE_EXCEEDED", S.DEADLINE_EXCEEDED, watch_with_deadline)
        expect_status("Redeem amount -5: INVALID_ARGUMENT", S.INVALID_ARGUMENT,
                      lambda: self.cards("Redeem", self.key_a, operation_id=self.op("negative"), card_number=card, receipt=self.receipt3, amount=-5))

        alive = must("GetCard after the refusals", lambda: self.cards("GetCard", A, card_number=card))
        check("server still answers GetCard, balance unchanged", [card, 95600], [get(alive, "card_number"), get(alive, "balance")])

    # ---- fiscal printing through an office register (issue 13's fixed names) ----

    def fiscal(self, method, key, **fields):
        types = {
            "SubmitReceipt": ("SubmitReceiptRequest", "PrintJob"), "GetPrintJob": ("GetPrintJobRequest", "PrintJob"),
            "ReportPrintResult": ("ReportPrintResultRequest", "PrintJob"),
        }[method]
        return self.call("/loyalty.v1.Fiscal/" + method, "loyalty.v1." + types[0], "loyalty.v1." + types[1], key, fields)

    def enum_value(self, message_full_name, field, name):
        return self.M(message_full_name).DESCRIPTOR.fields_by_name[field].enum_type.values_by_name[name].number

    def fiscal_checks(self):
        print("# fiscal: a driver's sale with held bonuses, printed on an office register", flush=True)
        S, A, ka = grpc.StatusCode, self.admin_key, self.key_a
        card, office = self.card + "F", "office-" + self.run
        must("IssueCard for the fiscal sale", lambda: self.admin("IssueCard", A, card_number=card))
        must("Adjust +1000.00 for the fiscal sale", lambda: self.admin("Adjust", A, operation_id=self.op("fiscal-topup"), card_number=card, amount=100000, reason="conformance"))
        held_receipt = self.receipt(self.store_a, 40, [
            dict(sku="w19", category="water", name="Water 19 l", quantity_milli=3000, price=35000, amount=105000),
            dict(sku="pump", category="goods", name="Pump", quantity_milli=1000, price=33333, amount=33333)])
        hold = must("Redeem 100.00 for the sale", lambda: self.cards("Redeem", ka, operation_id=self.op("fiscal-hold"), card_number=card, receipt=held_receipt, amount=10000))
        discount = {l.sku: l.discount for l in get(hold, "lines") or []}
        after = {l.sku: l.amount_after for l in get(hold, "lines") or []}
        # SubmitReceiptRequest.receipt: line amounts AFTER the bonus discounts; payments add up to them.
        printed = self.receipt(self.store_a, 40, [
            dict(sku="w19", category="water", name="Water 19 l", quantity_milli=3000, price=35000, amount=after.get("w19", 0)),
            dict(sku="pump", category="goods", name="Pump", quantity_milli=1000, price=33333, amount=after.get("pump", 0))])
        money = sum(after.values())
        Payment, Detail = self.M("loyalty.v1.FiscalPaymentPart"), self.M("loyalty.v1.FiscalLineDetail")
        Customer, Address = self.M("loyalty.v1.FiscalCustomerInfo"), self.M("loyalty.v1.DeliveryAddressContacts")
        request = self.M("loyalty.v1.SubmitReceiptRequest")
        card_kind = self.enum_value("loyalty.v1.FiscalPaymentPart", "type", "FISCAL_PAYMENT_KIND_CARD")
        paper = self.enum_value("loyalty.v1.SubmitReceiptRequest", "delivery", "RECEIPT_DELIVERY_PAPER")
        email = self.enum_value("loyalty.v1.SubmitReceiptRequest", "delivery", "RECEIPT_DELIVERY_EMAIL")
        vat20 = self.enum_value("loyalty.v1.FiscalLineDetail", "vat", "VAT_RATE_KIND_VAT20")
        sale = dict(operation_id=self.op("fiscal-sale"), office_register_id=office, receipt=printed, hold_id=get(hold, "hold_id") or "",
                    payments=[Payment(type=card_kind, amount=money)], delivery=paper, lines=[Detail(sku="w19", vat=vat20)],
                    customer=Customer(name="OOO Romashka", inn="7707083893",
                                      delivery_address=Address(ofd_contact="-", phones=["8 (495) 123-45-67", "8 916 123-45-67"])))
        state = lambda job: self.enum_name("loyalty.v1.PrintJob", "state", job.state) if job is not None else None  # noqa: E731

        job = must("SubmitReceipt", lambda: self.fiscal("SubmitReceipt", ka, **sale))
        check("SubmitReceipt: queued, with a job id, for the office register", ["PRINT_JOB_STATE_QUEUED", True, office],
              [state(job), bool(get(job, "job_id")), get(job, "office_register_id")])
        again = must("SubmitReceipt retried", lambda: self.fiscal("SubmitReceipt", ka, **sale))
        check("SubmitReceipt retried with the same operation id: the same job", get(job, "job_id"), get(again, "job_id"))
        expect_status("SubmitReceipt: same operation id, another delivery: ALREADY_EXISTS", S.ALREADY_EXISTS,
                      lambda: self.fiscal("SubmitReceipt", ka, **dict(sale, delivery=email)))
        before = dict(sale, operation_id=self.op("fiscal-before"), receipt=held_receipt, payments=[Payment(type=card_kind, amount=138333)])
        expect_status("SubmitReceipt with line amounts before the bonuses: INVALID_ARGUMENT", S.INVALID_ARGUMENT,
                      lambda: self.fiscal("SubmitReceipt", ka, **before))
        expect_status("SubmitReceipt whose payments do not add up to the lines: INVALID_ARGUMENT", S.INVALID_ARGUMENT,
                      lambda: self.fiscal("SubmitReceipt", ka, **dict(sale, operation_id=self.op("fiscal-short"), payments=[Payment(type=card_kind, amount=money - 1)])))
        expect_status("SubmitReceipt with a 9-digit INN: INVALID_ARGUMENT", S.INVALID_ARGUMENT,
                      lambda: self.fiscal("SubmitReceipt", ka, **dict(sale, operation_id=self.op("fiscal-inn"), customer=Customer(inn="770708389"))))
        expect_status("SubmitReceipt of a store A receipt with the store B key: PERMISSION_DENIED", S.PERMISSION_DENIED,
                      lambda: self.fiscal("SubmitReceipt", self.key_b, **dict(sale, operation_id=self.op("fiscal-b"))))

        office_key = get(must("create the office register's own key", lambda: self.admin(
            "CreateApiKey", A, role="pos", store_id=self.store_a, name="conformance py %s office" % self.run, office_register_id=office)), "api_key")
        feed = self.channel.unary_stream("/loyalty.v1.Fiscal/ReceivePrintJobs",
                                         request_serializer=lambda m: m.SerializeToString(),
                                         response_deserializer=self.M("loyalty.v1.PrintJobTask").FromString)
        task = None
        try:
            stream = feed(self.M("loyalty.v1.ReceivePrintJobsRequest")(store_id=self.store_a, office_register_id=office),
                          metadata=metadata(office_key), timeout=10)
            task = next(stream)
            stream.cancel()
        except Exception as e:  # noqa: BLE001
            fail("ReceivePrintJobs: first task", describe(e))
        check("ReceivePrintJobs: the office adapter gets the job", get(job, "job_id"), get(task, "job_id"))
        check("ReceivePrintJobs: line amounts after the discounts, and the hold's discount per line",
              [[after.get("w19"), after.get("pump")], {"w19": discount.get("w19"), "pump": discount.get("pump")}],
              [[l.amount for l in task.receipt.lines], {l.sku: l.bonus_discount for l in task.lines}] if task else None)

        done = self.enum_value("loyalty.v1.ReportPrintResultRequest", "outcome", "PRINT_OUTCOME_DONE")
        report = dict(job_id=get(job, "job_id") or "", outcome=done, contact_used="+79161234567", fiscal_document_number=17,
                      fiscal_sign="3512345678", fn_number="9999078900001234", shift_number=3, fiscal_receipt_number=5,
                      document_date_time="2026-12-06T12:00:00+03:00", total=money,
                      qr_code="t=20261206T1200&s=%d.%02d&fn=9999078900001234&i=17&fp=3512345678&n=1" % (money // 100, money % 100))
        expect_status("ReportPrintResult with a driver's key: PERMISSION_DENIED", S.PERMISSION_DENIED,
                      lambda: self.fiscal("ReportPrintResult", ka, **report))
        reported = must("ReportPrintResult done", lambda: self.fiscal("ReportPrintResult", office_key, **report))
        check("ReportPrintResult: done with its fiscal data and the contact of tag 1008", ["PRINT_JOB_STATE_DONE", 17, "3512345678", "+79161234567"],
              [state(reported), get(reported, "fiscal_document_number"), get(reported, "fiscal_sign"), get(reported, "contact_used")])
        read = must("GetPrintJob", lambda: self.fiscal("GetPrintJob", ka, job_id=get(job, "job_id") or ""))
        check("GetPrintJob: done, the hold committed", ["PRINT_JOB_STATE_DONE", "committed", 17],
              [state(read), get(read, "bonuses"), get(read, "fiscal_document_number")])
        twice = must("ReportPrintResult repeated", lambda: self.fiscal("ReportPrintResult", office_key, **report))
        check("ReportPrintResult repeated: the same job", [state(read), get(read, "updated_at")], [state(twice), get(twice, "updated_at")])
        expect_status("ReportPrintResult of another fiscal document for a done job: FAILED_PRECONDITION", S.FAILED_PRECONDITION,
                      lambda: self.fiscal("ReportPrintResult", office_key, **dict(report, fiscal_document_number=18)))
        after_card = must("GetCard after the fiscal sale", lambda: self.cards("GetCard", ka, card_number=card))
        check("GetCard after the fiscal sale: nothing held", 0, get(after_card, "held"))
        statement = must("GetStatement after the fiscal sale", lambda: self.admin("GetStatement", A, card_number=card, page_size=100))
        posts = [e.amount for e in get(statement, "entries") or [] if self.enum_name("loyalty.v1.LedgerEntry", "kind", e.kind) == "LEDGER_KIND_HOLD_POST"]
        check("GetStatement: the hold posted once, 100.00", [-10000], posts)

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--descriptor-set", help="a FileDescriptorSet of the protos (protoc --include_imports); made here when absent")
    args = parser.parse_args()
    addr = os.environ.get("LOYALTY_GRPC_ADDR")
    admin_key = (os.environ.get("LOYALTY_ADMIN_KEY") or "").strip()
    if not addr or not admin_key:
        sys.exit("set LOYALTY_GRPC_ADDR (host:port) and LOYALTY_ADMIN_KEY")

    if args.descriptor_set:
        message_class = load_messages(args.descriptor_set)
    else:
        with tempfile.TemporaryDirectory(prefix="loyalty-conformance-") as work:
            descriptor_set = os.path.join(work, "loyalty.pb")
            build_descriptor_set(descriptor_set)
            message_class = load_messages(descriptor_set)

    print("# grpcio %s (protobuf %s) against %s" % (grpc.__version__, __import__("google.protobuf").protobuf.__version__, addr), flush=True)
    suite = Suite(addr, admin_key, message_class)
    try:
        suite.pos_flow()
        suite.reflection_checks()
        suite.status_checks()
        suite.fiscal_checks()
    except Exception as e:  # noqa: BLE001
        import traceback
        fail("suite", "unexpected exception " + "".join(traceback.format_exception(type(e), e, e.__traceback__)))
    finally:
        suite.channel.close()
    print("# python: %d of %d checks passed" % (checks - failures, checks), flush=True)
    sys.exit(0 if failures == 0 else 1)


if __name__ == "__main__":
    main()
