#!/usr/bin/env python3
"""Writes the golden register files of the Formats tests, byte for byte, from the layouts in
/work/shared/docs/protocols.md §3.1–3.3 (and the Papyrus field positions the readers cite).
Run once by hand; the tests compare the writers' output with these files and read them back.
CR LF line ends and Windows-1251, as the registers (Windows programs) write and read them."""

def write(name, lines, encoding="cp1251"):
    with open(name, "wb") as f:
        f.write("".join(line + "\r\n" for line in lines).encode(encoding))

# The cards of every catalog golden file (the tests build the same list as CatalogCard records).
cards = [  # number, status, spendable kopecks, balance kopecks
    ("0000123456789", "active", 15000, 15000),   # field-cases A4: leading zeros are part of the number
    ("123456789", "active", 700, 700),           # A4: a different card
    ("2000001", "blocked", 0, 50000),
    ("2000002", "closed", 0, 0),
    ("2000003", "active", 0, -10000),            # in debt: nothing spendable offline
]
rub = lambda kopecks: f"{kopecks // 100}.{kopecks % 100:02d}"

# Кассир 5 (§3.3 '%' record, 18 fields, as Papyrus ExportSCard writes them).
kassir_cards = [f"%{n};;;{rub(s)};;{0 if st == 'active' else 1};1;;1;;;;0;;;;;" for n, st, s, b in cards]
write("kassir-catalog-cards.txt", ["##@@&&", "#"] + kassir_cards)

# Frontol (§3.1): discount cards, one payment-card group, payment cards with the face value.
frontol_cards = (["$$$ADDCCARDDISCS"]
    + [f"{i};1;{n};;;{1 if st == 'active' else 0};0;0;1;;;;;;;" for i, (n, st, s, b) in enumerate(cards, 1)]
    + ["$$$ADDCARDGROUPS", "1;Бонусы;Бонусы;0;1;", "$$$ADDCARDS"]
    + [f"1;{n};;;{len(n)};{len(n)};;;;;;{rub(s)};{1 if st == 'active' else 0}" for n, st, s, b in cards])
write("frontol-catalog-cards.txt", ["##@@&&", "#"] + frontol_cards)

# A back-office goods file still to load (field-cases A3's goods line: commas inside fields).
frontol_goods = ["##@@&&", "#", "$$$ADDQUANTITY",
    "941;4601234567890,4601234567906;Сыр 45%, 200 г;Сыр 45%, 200 г;66,00;0;0;1,1,1,0,0;;;;;0;;;5;1;1;;;;;;"]
write("frontol-goods.txt", frontol_goods)
write("frontol-goods-with-cards.txt", frontol_goods + frontol_cards)
kassir_goods = ["##@@&&", "#", "101;4601234567890;Молоко 3,2% 1 л;Молоко 3,2%;89.90;10;;0;1;99;;;;;;0;1"]
write("kassir-goods.txt", kassir_goods)
write("kassir-goods-with-cards.txt", kassir_goods + kassir_cards)

# The CSV catalog (UTF-8, ';').
write("catalog-cards.csv", ["card_number;status;offline_spendable_kopecks;balance_kopecks;watermark_utc"]
    + [f"{n};{st};{s};{b};2026-03-01T10:00:00.000Z" for n, st, s, b in cards], encoding="utf-8")

# Frontol sales report (§3.2): 3 header lines (marker, database id, report number), then
# transactions of 27 fields: 1 no; 2 date; 3 time; 4 type; 5 POS; 6 receipt; 7 cashier; 8..;
# 26 POS/shift/receipt; 27 enterprise.
tx = [0]
def frontol(date, time, kind, receipt, f8="", f9="", f10="", f11="", f12="", f13="", f14="", f15="", f16="", f26=None):
    tx[0] += 1
    fields = [str(1603300 + tx[0]), date, time, str(kind), "1", str(receipt), "1", f8, f9, f10, f11, f12, f13, f14, f15, f16]
    fields += [""] * (25 - len(fields))
    fields += [f26 if f26 is not None else f"1/466/{receipt}", "1"]
    return ";".join(fields)
d1, d2 = "06.07.2026", "07.07.2026"
line = lambda t, r, sku, price, qty, total, after: frontol(d1 if t < "24" and not t.startswith("00") else d2, t, 11, r, sku, "", price, qty, total, "0", "466", "", after)
report = ["#", "1", "466",
    # 102033 (field-cases A1): goods 1 000,00, bonus line discount 200,00, paid 800,00, card with leading zeros (A4).
    line("21:05:10", 102033, "101", "1000,00", "1,000", "1000,00", "800,00"),
    frontol(d1, "21:05:30", 40, 102033, "", "1", "", "", "800,00"),
    frontol(d1, "21:05:31", 55, 102033, "0000123456789", "", "", "", "", "0", "466"),
    # 102034 (A3): a line voided by storno, then the weighed line 66 × 0,548 = 36,17.
    line("21:10:00", 102034, "500", "10,00", "2,000", "20,00", "20,00"),
    frontol(d1, "21:10:05", 12, 102034, "500", "", "10,00", "2,000", "20,00", "0", "466", "", "20,00"),
    line("21:10:10", 102034, "941", "66", "0,548", "36,17", ""),
    frontol(d1, "21:10:20", 40, 102034, "", "1", "", "", "36,17"),
    frontol(d1, "21:10:21", 55, 102034, "", "", "", "", "", "0", "466"),
    # 102040 at 23:50 (A5): goods 300,00, bonus 50,00, paid 250,00 by bank card (type 2).
    line("23:50:00", 102040, "102", "300,00", "1,000", "300,00", "250,00"),
    frontol(d1, "23:50:10", 41, 102040, "", "2", "", "", "250,00"),
    frontol(d1, "23:50:11", 55, 102040, "123456789", "", "", "", "", "0", "466"),
    # 102041 at 00:20 the next day (A5: same shift across midnight), no card.
    frontol(d2, "00:20:00", 11, 102041, "103", "", "200,00", "1,000", "200,00", "0", "466", "", "200,00"),
    frontol(d2, "00:20:05", 40, 102041, "", "1", "", "", "200,00"),
    frontol(d2, "00:20:06", 55, 102041, "", "", "", "", "", "0", "466"),
    # 102042 (C3): goods 100,00 paid 70,00 by bank card and 30,00 with the bonus payment type 9.
    frontol(d2, "00:21:00", 11, 102042, "104", "", "100,00", "1,000", "100,00", "0", "466", "", "100,00"),
    frontol(d2, "00:21:05", 41, 102042, "", "2", "", "", "70,00"),
    frontol(d2, "00:21:06", 41, 102042, "", "9", "", "", "30,00"),
    frontol(d2, "00:21:07", 55, 102042, "0000123456789", "", "", "", "", "0", "466"),
    # 102043: cancelled.
    frontol(d2, "00:22:00", 11, 102043, "103", "", "200,00", "1,000", "200,00", "0", "466", "", "200,00"),
    frontol(d2, "00:22:10", 56, 102043),
    # 102044 (A6a): a return naming its sale (POS 1, shift 465, receipt 102001) in field 26.
    frontol(d2, "00:23:00", 11, 102044, "101", "", "100,00", "1,000", "100,00", "1", "466", "", "80,00"),
    frontol(d2, "00:23:05", 40, 102044, "", "1", "", "", "80,00"),
    frontol(d2, "00:23:06", 55, 102044, "2000003", "", "", "", "", "1", "466", f26="1/465/102001"),
    # 102045 (A6b): a return with a card and no reference (field 26 names the return itself).
    frontol(d2, "00:24:00", 11, 102045, "101", "", "100,00", "1,000", "100,00", "1", "466", "", "80,00"),
    frontol(d2, "00:24:05", 40, 102045, "", "1", "", "", "80,00"),
    frontol(d2, "00:24:06", 55, 102045, "2000003", "", "", "", "", "1", "466"),
    # Z of shift 466: 800,00 + 36,17 + 250,00 + 200,00 + 100,00 − 80,00 − 80,00 = 1 226,17.
    frontol(d2, "00:25:00", 61, 0, "", "466", "", "", "1226,17"),
]
write("frontol-report-shift466.txt", report)

# Кассир 5 sales report (§3.3 types; Papyrus Shtrihmf.cpp positions; field-cases A3 dates and dots):
# 1 no; 2 DD.MM.YY; 3 time; 4 type; 5 POS; 6 receipt; 7 cashier; 8..13 by type.
kx = [28080]
def kassir(time, kind, receipt, f8="", f9="", f10="", f11="", f12="", f13=None):
    kx[0] += 1
    fields = [str(kx[0]), "05.04.23", time, str(kind), "13", str(receipt), "1", f8, f9, f10, f11, f12]
    if f13 is not None: fields.append(f13)
    return ";".join(fields) + ";"
kassir_report = ["#", "1", "15",
    # 1276: 3.00 × 44.000 = 132.00, 32.00 of it paid by the card's bonuses (70, kind 3); cash 200.00 with 100.00 change.
    kassir("19:36:30", 11, 1276, "941", "1", "3.00", "44.000", "132.00"),
    kassir("19:36:31", 70, 1276, "0000123456789", "3", "", "", "32.00"),
    kassir("19:36:35", 40, 1276, "", "", "100.00", "1", "200.00"),
    "28088;05.04.23;19:36:36;300;13;1276;1;;1;3.00;44.000;0;",  # field-cases A3's line: a type the reader skips
    kassir("19:36:37", 55, 1276, "0000123456789", "", "", "", "", "1"),
    # 1277: a line voided by storno, then 2 × 45.50; the card comes from the receipt discount detail (71).
    kassir("19:40:00", 11, 1277, "101", "1", "89.90", "1.000", "89.90"),
    kassir("19:40:05", 12, 1277, "101", "1", "89.90", "1.000", "89.90"),
    kassir("19:40:10", 11, 1277, "102", "1", "45.50", "2.000", "91.00"),
    kassir("19:40:11", 71, 1277, "123456789", "3", "", "", "0.00"),
    kassir("19:40:15", 41, 1277, "", "", "0.00", "2", "91.00"),
    kassir("19:40:16", 55, 1277, "", "", "", "", ""),
    # 1278: a return (type 2), no reference in this format.
    kassir("19:45:00", 13, 1278, "102", "1", "45.50", "1.000", "45.50"),
    kassir("19:45:05", 40, 1278, "", "", "0.00", "1", "45.50"),
    kassir("19:45:06", 55, 1278, "", "", "", "", "", "2"),
    # 1279: cancelled.
    kassir("19:50:00", 11, 1279, "101", "1", "89.90", "1.000", "89.90"),
    kassir("19:50:05", 56, 1279),
    # Z of shift 15: 100.00 + 91.00 − 45.50 = 145.50.
    kassir("20:00:00", 61, 0, "15", "", "", "", "145.50"),
]
write("kassir-report-shift15.txt", kassir_report)
