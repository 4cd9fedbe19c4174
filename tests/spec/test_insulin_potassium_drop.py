"""Spec: insulin_potassium_drop, as of 2026-11-20 (90-day lookback starts 2026-08-22)."""

from __future__ import annotations

from datetime import date
from functools import partial

from tests.helpers import table
from tests.spec.harness import OUT, check_spec

AS_OF = date(2026, 11, 20)
CHECK = "insulin_potassium_drop"

PRESCRIPTIONS = table("""
patient_id | drug_name                         | rxnorm_code | atc_code | start_date | end_date   | days_supply
I01        | insulin glargine 100 units/mL pen | 274783      | A10AE04  | 2025-01-01 |            |
# brand name only, no codes
I02        | Lantus SoloStar pen               |             |          | 2025-01-01 |            |
# ATC code only
I03        | XYZ pen 100 units/mL              |             | A10AE04  | 2025-01-01 |            |
# RxNorm code only
I04        | pen (see pharmacy)                | 86009       |          | 2025-01-01 |            |
I05        | insulin aspart                    | 51428       | A10AB05  | 2025-01-01 |            |
I06        | insulin aspart                    | 51428       | A10AB05  | 2025-01-01 |            |
I07        | Humalog KwikPen                   |             |          | 2025-01-01 |            |
# ended the day before the lookback starts: not in the population
I08        | insulin glargine 100 units/mL pen | 274783      | A10AE04  | 2025-01-01 | 2026-08-21 |
# ends on the first day of the lookback: in the population
I09        | insulin glargine 100 units/mL pen | 274783      | A10AE04  | 2025-01-01 | 2026-08-22 |
# starts after as-of
I10        | insulin glargine 100 units/mL pen | 274783      | A10AE04  | 2026-11-21 |            |
# no insulin at all
I11        | metformin 500 mg                  | 6809        | A10BA02  | 2025-01-01 |            |
I12        | Toujeo                            |             |          | 2025-01-01 |            |
I13        | Toujeo                            |             |          | 2025-01-01 |            |
I14        | Toujeo                            |             |          | 2025-01-01 |            |
I15        | Toujeo                            |             |          | 2025-01-01 |            |
# an insulin supply is not insulin
I16        | insulin syringe 0.5 mL            |             |          | 2025-01-01 |            |
I17        | Toujeo                            |             |          | 2025-01-01 |            |
# only days_supply: 2026-08-01 + 21 days = 2026-08-22, the first day of the lookback
I19        | Levemir FlexPen                   |             |          | 2026-08-01 |            | 21
# only days_supply: ran out 2026-08-21, the day before the lookback
I18        | Levemir FlexPen                   |             |          | 2026-08-01 |            | 20
I20        | Toujeo                            |             |          | 2025-01-01 |            |
I21        | Toujeo                            |             |          | 2025-01-01 |            |
I22        | Toujeo                            |             |          | 2025-01-01 |            |
I23        | Toujeo                            |             |          | 2025-01-01 |            |
# a combination product containing insulin (glargine/lixisenatide)
I24        | Soliqua 100/33                    |             | A10AE54  | 2025-01-01 |            |
# "after insulin": insulin started the day after a low result, and on the day of one
I25        | Lantus SoloStar pen               |             |          | 2026-10-02 |            |
I26        | Lantus SoloStar pen               |             |          | 2026-10-01 |            |
# a fall from a pre-insulin baseline to a result on the day insulin started, and one before it
I27        | Lantus SoloStar pen               |             |          | 2026-10-02 |            |
I28        | Lantus SoloStar pen               |             |          | 2026-10-03 |            |
# falls that start above the upper reference limit (5.0): correction of hyperkalaemia
I29        | Humalog KwikPen                   |             |          | 2025-01-01 |            |
I30        | Humalog KwikPen                   |             |          | 2025-01-01 |            |
I31        | Humalog KwikPen                   |             |          | 2025-01-01 |            |
# helper review 2026-11-30: a low result on the last day of a course counts; a fall more than
# refill_gap_days (30) after it stopped does not; a severe low in a 10-day gap between two monthly
# supplies does (and makes the flag high)
I37        | Lantus SoloStar pen               |             |          | 2026-09-01 | 2026-10-01 |
I38        | Lantus SoloStar pen               |             |          | 2026-08-22 | 2026-09-01 |
I41        | Lantus SoloStar pen               |             |          | 2026-08-25 |            | 30
I41        | Lantus SoloStar pen               |             |          | 2026-10-04 |            | 30
# two results of one draw (one timestamp, or one date in a date-only export) are the lowest: no fall
I39        | Toujeo                            |             |          | 2025-01-01 |            |
I40        | Toujeo                            |             |          | 2025-01-01 |            |
I32        | Humalog KwikPen                   |             |          | 2025-01-01 |            |
# a diuretic alongside insulin is shown; one that ended before the lookback, or before insulin, is not
I33        | Toujeo                            |             |          | 2025-01-01 |            |
I33        | furosemide 40 mg tablet           | 4603        | C03CA01  | 2025-06-01 |            |
I34        | Toujeo                            |             |          | 2025-01-01 |            |
I34        | furosemide 40 mg tablet           | 4603        | C03CA01  | 2025-06-01 | 2026-08-21 |
I35        | Toujeo                            |             |          | 2026-10-01 |            |
I35        | bendroflumethiazide 2.5 mg        |             | C03AA01  | 2026-01-01 | 2026-09-30 |
# severe hypokalaemia before insulin started does not make the flag high priority
I36        | Toujeo                            |             |          | 2026-10-10 |            |
""")

LABS = table("""
patient_id | collected_at        | loinc_code | test_name       | value | unit
# low potassium, still low at the latest result: high priority
I01        | 2026-10-01          | 2823-3     |                 | 3.2   | mmol/L
# fall of 1.1 in 2 days, ending at exactly 3.5: normal priority
I02        | 2026-10-01          | 2823-3     |                 | 4.6   | mmol/L
I02        | 2026-10-03          | 2823-3     |                 | 3.5   | mmol/L
# fall of exactly 1.0 (floating point: 4.5 - 3.5) the next day
I03        | 2026-10-01          | 2823-3     |                 | 4.5   | mmol/L
I03        | 2026-10-02          | 2823-3     |                 | 3.5   | mmol/L
# fall of 0.9: not enough
I04        | 2026-10-01          | 2823-3     |                 | 4.4   | mmol/L
I04        | 2026-10-02          | 2823-3     |                 | 3.5   | mmol/L
# fall of 1.1 exactly 7 days apart: counts
I05        | 2026-10-01          | 2823-3     |                 | 5.0   | mmol/L
I05        | 2026-10-08          | 2823-3     |                 | 3.9   | mmol/L
# fall of 1.1 over 8 days: too slow
I06        | 2026-10-01          | 2823-3     |                 | 5.0   | mmol/L
I06        | 2026-10-09          | 2823-3     |                 | 3.9   | mmol/L
# potassium exactly 3.5: not low
I07        | 2026-10-01          | 2823-3     |                 | 3.5   | mmol/L
I08        | 2026-10-01          | 2823-3     |                 | 3.2   | mmol/L
I09        | 2026-10-01          | 2823-3     |                 | 3.2   | mmol/L
I10        | 2026-10-01          | 2823-3     |                 | 3.2   | mmol/L
I11        | 2026-10-01          | 2823-3     |                 | 3.1   | mmol/L
# low potassium the day before the lookback: not counted
I12        | 2026-08-21          | 2823-3     |                 | 3.2   | mmol/L
I12        | 2026-10-01          | 2823-3     |                 | 4.2   | mmol/L
# low potassium on the first day of the lookback: counted
I13        | 2026-08-22          | 2823-3     |                 | 3.2   | mmol/L
I13        | 2026-10-01          | 2823-3     |                 | 4.2   | mmol/L
# a fall whose first result is before the lookback: not counted
I14        | 2026-08-20          | 2823-3     |                 | 4.8   | mmol/L
I14        | 2026-08-24          | 2823-3     |                 | 3.6   | mmol/L
# urine potassium is not a blood potassium
I15        | 2026-10-01          | 2828-2     |                 | 3.0   | mmol/L
I15        | 2026-10-02          |            | Urine potassium | 3.0   | mmol/L
I16        | 2026-10-01          | 2823-3     |                 | 3.0   | mmol/L
# a result in between breaks the pair: 5.0 -> 4.5 -> 3.9 has no consecutive fall of 1.0
I17        | 2026-10-01          | 2823-3     |                 | 5.0   | mmol/L
I17        | 2026-10-02          | 2823-3     |                 | 4.5   | mmol/L
I17        | 2026-10-03          | 2823-3     |                 | 3.9   | mmol/L
I18        | 2026-10-01          | 2823-3     |                 | 3.2   | mmol/L
I19        | 2026-10-01          | 2823-3     |                 | 3.2   | mmol/L
# a low result after as-of does not count
I20        | 2026-11-21          | 2823-3     |                 | 3.0   | mmol/L
# named test in mEq/L, no LOINC
I21        | 2026-11-20          |            | Potassium       | 3.3   | mEq/L
# same-day fall, morning to evening
I22        | 2026-10-01T08:00:00 | 2823-3     |                 | 4.6   | mmol/L
I22        | 2026-10-01T20:00:00 | 2823-3     |                 | 3.5   | mmol/L
# severe hypokalaemia, since corrected: high priority
I23        | 2026-10-01          | 2823-3     |                 | 2.9   | mmol/L
I23        | 2026-10-05          | 2823-3     |                 | 4.0   | mmol/L
# a test without a numeric result is not low
I24        | 2026-10-01          | 2823-3     |                 |       | mmol/L
I24        | 2026-10-05          | 2823-3     |                 | 3.4   | mmol/L
I37        | 2026-10-01          | 2823-3     |                 | 3.3   | mmol/L
I38        | 2026-10-01          | 2823-3     |                 | 4.6   | mmol/L
I38        | 2026-10-05          | 2823-3     |                 | 3.5   | mmol/L
I41        | 2026-09-30          | 2823-3     |                 | 2.4   | mmol/L
I41        | 2026-10-20          | 2823-3     |                 | 4.0   | mmol/L
I39        | 2026-10-05          | 2823-3     |                 | 4.6   | mmol/L
I39        | 2026-10-05          | 2823-3     |                 | 3.5   | mmol/L
I39        | 2026-10-06          | 2823-3     |                 | 3.5   | mmol/L
I40        | 2026-10-05T08:00:00 | 2823-3     |                 | 4.6   | mmol/L
I40        | 2026-10-05T08:00:00 | 2823-3     |                 | 3.6   | mmol/L
I40        | 2026-10-05T09:00:00 | 2823-3     |                 | 3.6   | mmol/L
# low the day before insulin started (then normal): not counted
I25        | 2026-10-01          | 2823-3     |                 | 3.2   | mmol/L
I25        | 2026-10-20          | 2823-3     |                 | 4.1   | mmol/L
# low on the day insulin started: counted
I26        | 2026-10-01T09:00:00 | 2823-3     |                 | 3.2   | mmol/L
I26        | 2026-10-20          | 2823-3     |                 | 4.1   | mmol/L
# 4.8 before insulin -> 3.6 on its first day: a drop after insulin
I27        | 2026-09-30          | 2823-3     |                 | 4.8   | mmol/L
I27        | 2026-10-02          | 2823-3     |                 | 3.6   | mmol/L
# the same fall, both results before insulin started: not counted
I28        | 2026-09-30          | 2823-3     |                 | 4.8   | mmol/L
I28        | 2026-10-02          | 2823-3     |                 | 3.6   | mmol/L
# 5.8 -> 4.6: hyperkalaemia corrected, not a drop
I29        | 2026-10-01          | 2823-3     |                 | 5.8   | mmol/L
I29        | 2026-10-02          | 2823-3     |                 | 4.6   | mmol/L
# 5.1 -> 4.0: starts just above 5.0, not a drop
I30        | 2026-10-01          | 2823-3     |                 | 5.1   | mmol/L
I30        | 2026-10-02          | 2823-3     |                 | 4.0   | mmol/L
# 5.8 -> 3.4: the correction overshot into hypokalaemia: low, though not a drop
I31        | 2026-10-01          | 2823-3     |                 | 5.8   | mmol/L
I31        | 2026-10-02          | 2823-3     |                 | 3.4   | mmol/L
# a censored '>6.0' is above 5.0 for certain: not a drop
I32        | 2026-10-01          | 2823-3     |                 | >6.0  | mmol/L
I32        | 2026-10-02          | 2823-3     |                 | 4.5   | mmol/L
I33        | 2026-10-01          | 2823-3     |                 | 3.3   | mmol/L
I34        | 2026-10-01          | 2823-3     |                 | 3.3   | mmol/L
I35        | 2026-10-05          | 2823-3     |                 | 3.3   | mmol/L
# 2.9 before insulin; after it 3.4 (low, not severe), then 3.6
I36        | 2026-10-01          | 2823-3     |                 | 2.9   | mmol/L
I36        | 2026-10-12          | 2823-3     |                 | 3.4   | mmol/L
I36        | 2026-10-20          | 2823-3     |                 | 3.6   | mmol/L
""")

TABLES = {"prescriptions": PRESCRIPTIONS, "labs": LABS}

EXPECTED = {
    "I01": "high",  # low potassium, still low at the latest result
    "I02": "normal",  # fall of 1.1 in 2 days, ending at exactly 3.5
    "I03": "normal",  # fall of exactly 1.0 the next day
    "I04": None,  # fall of 0.9
    "I05": "normal",  # fall of 1.1 exactly 7 days apart
    "I06": None,  # fall of 1.1 over 8 days
    "I07": None,  # potassium exactly 3.5
    "I08": OUT,  # insulin ended the day before the lookback
    "I09": None,  # insulin ends on the first day of the lookback: in; its low K came after it stopped
    "I10": OUT,  # insulin starts after as-of
    "I11": OUT,  # no insulin
    "I12": None,  # low the day before the lookback
    "I13": "normal",  # low on the first day of the lookback
    "I14": None,  # a fall whose first result is before the lookback
    "I15": None,  # urine potassium
    "I16": OUT,  # an insulin syringe is not insulin
    "I17": None,  # a result in between breaks the pair
    "I18": OUT,  # days_supply ran out the day before the lookback
    "I19": None,  # days_supply reaches the first day of the lookback: in; low K after it ran out
    "I20": None,  # a low result after as-of
    "I21": "high",  # named test in mEq/L on as-of
    "I22": "normal",  # same-day fall, morning to evening
    "I23": "high",  # severe hypokalaemia (below 3.0), since corrected
    "I24": "high",  # a test without a value is not low; 3.4 is
    "I25": None,  # low the day before insulin started
    "I26": "normal",  # low on the day insulin started
    "I27": "normal",  # 4.8 before insulin -> 3.6 on its first day
    "I28": None,  # the same fall, both before insulin
    "I29": None,  # 5.8 -> 4.6: hyperkalaemia corrected
    "I30": None,  # 5.1 -> 4.0: starts above 5.0
    "I31": "high",  # 5.8 -> 3.4: overshot into hypokalaemia
    "I32": None,  # '>6.0' -> 4.5: not a drop
    "I33": "high",  # a diuretic alongside insulin is shown
    "I34": "high",  # a diuretic that ended before the lookback is not
    "I35": "high",  # a diuretic that ended before insulin is not
    "I36": "normal",  # the 2.9 predates insulin; the latest is 3.6
    "I37": "high",  # low on the last day of the insulin course (and still the latest result)
    "I38": None,  # 4.6 -> 3.5 over a month after insulin stopped (34 days)
    "I39": None,  # 4.6 and 3.5 on one date count as 3.5: no fall to the next day's 3.5
    "I40": None,  # 4.6 and 3.6 at one timestamp count as 3.6: no fall
    "I41": "high",  # 2.4 between two monthly supplies (supply ended 09-24, next 10-04): on insulin
}
spec = partial(check_spec, check=CHECK, as_of=AS_OF, tables=TABLES, expected=EXPECTED)


def test_flags_exactly_the_expected_patients(tmp_path):
    spec(tmp_path)


def test_priority_reason_and_evidence(tmp_path):
    run = spec(
        tmp_path,
        reason={"I02": "...potassium fell..."},
        evidence={
            "I02": {
                "potassium_falls": "4.6 -> 3.5 (2026-10-01 -> 2026-10-03)",
                "potassium_results": "2026-10-01: 4.6; 2026-10-03: 3.5",
                "insulins": "Lantus SoloStar pen",
            },
            "I01": {
                "low_potassium": "3.2 on 2026-10-01",
                "potassium_falls": None,
                "insulin_since": "2025-01-01",
                "last_potassium": "3.2",
            },
        },
    )
    assert "below" not in run.by_id["I02"]["reason"]


def test_after_insulin_correction_and_concurrent_diuretic(tmp_path):
    run = spec(
        tmp_path,
        reason={"I33": "...; also on a diuretic (furosemide 40 mg tablet)"},
        evidence={
            "I27": {
                "potassium_falls": "4.8 -> 3.6 (2026-09-30 -> 2026-10-02)",
                "insulin_since": "2026-10-02",
            },
            "I31": {"low_potassium": "3.4 on 2026-10-02", "potassium_falls": None},
            "I26": {"low_potassium": "3.2 on 2026-10-01"},
            "I36": {"low_potassium": "3.4 on 2026-10-12"},
            "I33": {"concurrent_diuretics": "furosemide 40 mg tablet"},
            **{patient: {"concurrent_diuretics": None} for patient in ("I34", "I35", "I01")},
        },
    )
    for patient in ("I34", "I35", "I01"):
        assert "diuretic" not in run.by_id[patient]["reason"]


def test_upper_limit_is_a_parameter(tmp_path):
    # every fall now counts: 5.8 -> 4.6, 5.1 -> 4.0 and '>6.0' -> 4.5 (a fall of at least 1.5)
    expected = {**EXPECTED, "I29": True, "I30": True, "I32": True}
    run = spec(tmp_path, expected=expected, params={"potassium_high": 99})
    assert run.result.parameters["potassium_high"] == 99.0


# Issue 15, round 2: premixed and UK insulin brands (Exeter insulin-name list), named only. A pen needle
# is not insulin. Insulin long before, potassium low after it: flagged under every reading of "after".
UK_PRESCRIPTIONS = table("""
patient_id | drug_name                              | rxnorm_code | atc_code | start_date | end_date | days_supply
X01        | NovoMix 30 FlexPen                     |             |          | 2025-01-01 |          |
X02        | Hypurin Porcine Isophane cartridges    |             |          | 2025-01-01 |          |
X03        | Insuman Comb 25 SoloStar               |             |          | 2025-01-01 |          |
X04        | NovoFine pen needles                   |             |          | 2025-01-01 |          |
""")

UK_LABS = table("""
patient_id | collected_at | loinc_code | test_name | value | unit
X01        | 2026-10-01   | 2823-3     |           | 3.2   | mmol/L
X02        | 2026-10-01   | 2823-3     |           | 3.2   | mmol/L
X03        | 2026-10-01   | 2823-3     |           | 3.2   | mmol/L
X04        | 2026-10-01   | 2823-3     |           | 3.2   | mmol/L
""")


def test_premixed_and_uk_insulin_brands_are_seen(tmp_path):
    expected = {"X01": True, "X02": True, "X03": True, "X04": OUT}  # X04: pen needles
    check_spec(tmp_path, CHECK, AS_OF, {"prescriptions": UK_PRESCRIPTIONS, "labs": UK_LABS}, expected)


# Review 2026-11: a product that names an insulin is insulin, whatever device word its name carries
# (a pump cartridge, an insulin for the pump); a row that names no insulin beyond the class word and
# says pump, pod, reservoir or syringe is a device. Insulin-like growth factor (mecasermin) is not
# insulin. Every patient has a low potassium long after the start.
DEVICE_PRESCRIPTIONS = table("""
patient_id | drug_name                                            | rxnorm_code | atc_code | start_date | end_date | days_supply
W01        | NovoRapid PumpCart 100units/ml cartridge             |             |          | 2025-01-01 |          |
W02        | Insulin lispro 100 units/mL for insulin pump         |             |          | 2025-01-01 |          |
# the class word and an ATC code: coded insulin, for the pump
W03        | Insulin for pump 100 units/mL vial                   |             | A10AB01  | 2025-01-01 |          |
W04        | Omnipod DASH insulin pods                            |             |          | 2025-01-01 |          |
W05        | Insulin pump reservoir 3ml                           |             |          | 2025-01-01 |          |
W06        | BD insulin syringe 0.5ml 30G                         |             |          | 2025-01-01 |          |
W07        | Increlex (mecasermin) insulin-like growth factor 10mg/ml |         |          | 2025-01-01 |          |
W08        | Insulin-like growth factor 1 injection               |             | H01AC03  | 2025-01-01 |          |
""")

DEVICE_LABS = table(
    "patient_id | collected_at | loinc_code | test_name | value | unit\n"
    + "\n".join(f"W0{n} | 2026-10-01 | 2823-3 | | 3.2 | mmol/L" for n in range(1, 9))
)


def test_an_insulin_named_for_a_pump_is_insulin_and_devices_and_igf_1_are_not(tmp_path):
    expected = {
        "W01": True,
        "W02": True,
        "W03": True,
        "W04": OUT,
        "W05": OUT,
        "W06": OUT,
        "W07": OUT,
        "W08": OUT,
    }
    tables = {"prescriptions": DEVICE_PRESCRIPTIONS, "labs": DEVICE_LABS}
    check_spec(
        tmp_path, CHECK, AS_OF, tables, expected, evidence={"W01": {"insulins": "NovoRapid PumpCart..."}}
    )


def test_a_refill_gap_that_began_before_the_lookback_still_covers_its_results(tmp_path):
    """Second read 2026-11-30: I41's first supply ended on 2026-09-24; as of 2026-12-24 the lookback
    starts 2026-09-25, after that end, but the 2.4 of 2026-09-30 is in its 30-day refill gap and the
    lookback: still on insulin, still high."""
    prescriptions = table("""
    patient_id | drug_name           | rxnorm_code | atc_code | start_date | end_date | days_supply
    G01        | Lantus SoloStar pen |             |          | 2026-08-25 |          | 30
    G01        | Lantus SoloStar pen |             |          | 2026-10-04 |          | 30
    G02        | Lantus SoloStar pen |             |          | 2026-08-25 |          | 30
    """)
    labs = table("""
    patient_id | collected_at | loinc_code | test_name | value | unit
    G01        | 2026-09-30   | 2823-3     |           | 2.4   | mmol/L
    G01        | 2026-10-20   | 2823-3     |           | 4.0   | mmol/L
    G02        | 2026-09-30   | 2823-3     |           | 2.4   | mmol/L
    """)
    # G02 has no course active in the lookback: not in the population, whatever its gap covers
    expected = {"G01": "high", "G02": OUT}
    check_spec(tmp_path, CHECK, date(2026, 12, 24), {"prescriptions": prescriptions, "labs": labs}, expected)


# Review 2026-12-03 (GP, dialysis and hospital data):
# - Hyperkalaemia treated with insulin and glucose is sampled in steps (UK Kidney Association 2020: at
#   0, 1, 2, 4, 6 and 24 hours): 6.6 -> 4.9 -> 3.8 is one fall from 6.6, its correction, not a drop
#   from 4.9. A fall is a correction when its falling run (each result no higher than the one
#   before, within max_gap_days) was above the upper limit within max_gap_days before its later
#   result, the run seen whole from before the lookback; a date-only day's 6.6 and 4.9 count as 4.9
#   that was above the limit. An overshoot below 3.5 still flags as a low result.
# - Haemodialysis lowers potassium by design: a post-dialysis sample (LOINC 29349-8) is not the
#   patient's level, and the pre -> post fall is not insulin's doing. It takes part in no check.
# - MIMIC-IV records a patient's own insulin pump as "Insulin Pump (Self Administering Medication)".
CORRECTION_PRESCRIPTIONS = table("""
patient_id | drug_name                                                      | rxnorm_code | atc_code | start_date | end_date   | days_supply
H01        | Insulin soluble human 100units/ml solution for injection 10ml vials |     |          | 2026-10-01 | 2026-10-01 |
H02        | Insulin (Regular) for Hyperkalemia                             |             |          | 2026-10-01 | 2026-10-01 |
H03        | Humalog KwikPen                                                |             |          | 2025-01-01 |            |
H04        | Humalog KwikPen                                                |             |          | 2025-01-01 |            |
H05        | Humalog KwikPen                                                |             |          | 2025-01-01 |            |
H06        | Lantus 100units/ml solution for injection 3ml SoloStar pre-filled pens |   |          | 2024-01-01 |            |
H07        | Lantus 100units/ml solution for injection 3ml SoloStar pre-filled pens |   |          | 2024-01-01 |            |
H08        | Insulin Pump (Self Administering Medication)                   |             |          | 2026-10-01 | 2026-10-05 |
H09        | Insulin pump reservoir 3ml                                     |             |          | 2026-10-01 | 2026-10-05 |
H10        | Humalog KwikPen                                                |             |          | 2025-01-01 |            |
H11        | Humalog KwikPen                                                |             |          | 2025-01-01 |            |
H12        | Humalog KwikPen                                                |             |          | 2025-01-01 |            |
H13        | Humalog KwikPen                                                |             |          | 2025-01-01 |            |
""")

CORRECTION_LABS = table("""
patient_id | collected_at        | loinc_code | test_name       | value | unit
H01        | 2026-10-01T08:00:00 |            | Serum potassium | 6.6   | mmol/L
H01        | 2026-10-01T12:00:00 |            | Serum potassium | 4.9   | mmol/L
H01        | 2026-10-01T18:00:00 |            | Serum potassium | 3.8   | mmol/L
H02        | 2026-10-01T06:00:00 | 2823-3     |                 | 6.9   | mEq/L
H02        | 2026-10-01T09:00:00 | 2823-3     |                 | 4.9   | mEq/L
H02        | 2026-10-02T05:00:00 | 2823-3     |                 | 3.8   | mEq/L
# overshoot: the run from 6.6 ends low
H03        | 2026-10-01T08:00:00 | 2823-3     |                 | 6.6   | mmol/L
H03        | 2026-10-01T12:00:00 | 2823-3     |                 | 4.9   | mmol/L
H03        | 2026-10-01T18:00:00 | 2823-3     |                 | 3.3   | mmol/L
# a rise begins a new run: 5.0 -> 3.9 starts at the upper limit, not above it
H04        | 2026-10-01          | 2823-3     |                 | 6.0   | mmol/L
H04        | 2026-10-02          | 2823-3     |                 | 4.6   | mmol/L
H04        | 2026-10-03          | 2823-3     |                 | 5.0   | mmol/L
H04        | 2026-10-04          | 2823-3     |                 | 3.9   | mmol/L
# a gap of more than 7 days begins a new run: 4.9 -> 3.8 is a drop
H05        | 2026-10-01          | 2823-3     |                 | 6.0   | mmol/L
H05        | 2026-10-10          | 2823-3     |                 | 4.9   | mmol/L
H05        | 2026-10-12          | 2823-3     |                 | 3.8   | mmol/L
H06        | 2026-10-05T07:30:00 | 51618-7    |                 | 4.9   | mmol/L
H06        | 2026-10-05T12:00:00 | 29349-8    |                 | 3.7   | mmol/L
H07        | 2026-10-05T07:30:00 | 51618-7    |                 | 4.6   | mmol/L
H07        | 2026-10-05T12:00:00 | 29349-8    |                 | 3.3   | mmol/L
H08        | 2026-10-02          | 2823-3     |                 | 3.1   | mmol/L
H09        | 2026-10-02          | 2823-3     |                 | 3.1   | mmol/L
# the run began the day before the lookback (which starts 2026-08-22)
H10        | 2026-08-21T08:00:00 | 2823-3     |                 | 6.6   | mmol/L
H10        | 2026-08-22T08:00:00 | 2823-3     |                 | 4.9   | mmol/L
H10        | 2026-08-22T18:00:00 | 2823-3     |                 | 3.8   | mmol/L
# a date-only export: 6.6 and 4.9 of one day count as 4.9, but the day was above the limit
H11        | 2026-10-01          | 2823-3     |                 | 6.6   | mmol/L
H11        | 2026-10-01          | 2823-3     |                 | 4.9   | mmol/L
H11        | 2026-10-02          | 2823-3     |                 | 3.8   | mmol/L
# an unchanged result continues the run
H12        | 2026-10-01T08:00:00 | 2823-3     |                 | 6.6   | mmol/L
H12        | 2026-10-01T12:00:00 | 2823-3     |                 | 4.9   | mmol/L
H12        | 2026-10-01T18:00:00 | 2823-3     |                 | 4.9   | mmol/L
H12        | 2026-10-02T08:00:00 | 2823-3     |                 | 3.8   | mmol/L
# a slow decline three weeks after a borderline 5.2 is not its correction
H13        | 2026-10-01          | 2823-3     |                 | 5.2   | mmol/L
H13        | 2026-10-08          | 2823-3     |                 | 4.9   | mmol/L
H13        | 2026-10-15          | 2823-3     |                 | 4.5   | mmol/L
H13        | 2026-10-22          | 2823-3     |                 | 3.5   | mmol/L
""")


def test_a_stepwise_correction_of_hyperkalaemia_dialysis_and_an_own_pump(tmp_path):
    expected = {
        "H01": None,  # 6.6 -> 4.9 -> 3.8 in a day: corrected, ends normal
        "H02": None,  # the same, MIMIC-IV's insulin for hyperkalaemia
        "H03": "high",  # overshoot to 3.3
        "H04": "normal",  # 5.0 -> 3.9 after a rise
        "H05": "normal",  # 4.9 -> 3.8, nine days after the 6.0
        "H06": None,  # pre-dialysis 4.9, post-dialysis 3.7: dialysis, not insulin
        "H07": None,  # a post-dialysis 3.3 is not the patient's level
        "H08": "high",  # own pump, potassium 3.1
        "H09": OUT,  # a pump reservoir is a device
        "H10": None,  # the 6.6 before the lookback began the run
        "H11": None,  # one day's 6.6 and 4.9, then 3.8
        "H12": None,  # 6.6 -> 4.9 -> 4.9 -> 3.8
        "H13": "normal",  # 4.5 -> 3.5, three weeks after the 5.2
    }
    tables = {"prescriptions": CORRECTION_PRESCRIPTIONS, "labs": CORRECTION_LABS}
    check_spec(
        tmp_path,
        CHECK,
        AS_OF,
        tables,
        expected,
        evidence={
            "H03": {"low_potassium": "3.3 on 2026-10-01", "potassium_falls": None},
            "H04": {"potassium_falls": "5.0 -> 3.9 (2026-10-03 -> 2026-10-04)"},
            "H05": {"potassium_falls": "4.9 -> 3.8 (2026-10-10 -> 2026-10-12)"},
            "H13": {"potassium_falls": "4.5 -> 3.5 (2026-10-15 -> 2026-10-22)"},
        },
    )
