"""Older patients with lower-limb numbness on many drugs or on a drug that raises fall risk."""

from checks.framework import CheckDefinition, Parameter, days, refill_gap

CHECK = CheckDefinition(
    id="elderly_numbness_fall_risk",
    title="Older patient with leg numbness and polypharmacy or a fall-risk drug",
    guideline=(
        "Evaluate fall risk with numbness in lower extremities",
        "Consider polypharmacy and potential drug interactions",
    ),
    population=(
        "Patients aged min_age or over on the as-of date (in completed years; the birthday itself "
        "counts) with numbness or neuropathy of the lower limbs recorded on or before as-of and not "
        "resolved on or before as-of (ICD-10-CM G57.x, G60-G63, E08-E13 .42; ICD-9-CM 355.0-355.8, "
        "356.x, 357.x; SNOMED-CT polyneuropathy and diabetic peripheral neuropathy concepts, and "
        "neuropathy of the leg or foot), or a numbness or paraesthesia symptom of the leg or foot "
        "(lower_limb_numbness_symptoms) recorded in the last symptom_lookback_days and not resolved: GP "
        "systems seldom resolve a symptom code, and one recorded years ago is no current numbness "
        "(clinical review 2026-12). Patients without a birth date are left out."
    ),
    flag=(
        "polypharmacy_count or more distinct regular systemic medicines taken on as-of, or a fall-risk "
        "drug taken on as-of (AGS Beers 2023): benzodiazepine, Z-drug, opioid, sedating (first-generation) "
        "antihistamine, gabapentinoid, tricyclic antidepressant, SNRI, SSRI, antiepileptic or "
        "antipsychotic. A regular systemic medicine is systemic (not a cream, gel, plaster, "
        "eye, ear or nasal preparation, mouthwash, vaginal or scalp product: ATC D, M02, S, R01A, A01, G01, "
        "G02 or the form in the name; a patch, named transdermal or not, is systemic, unless of a drug that "
        "acts locally: an NSAID, lidocaine, capsaicin, a salicylate or menthol rub, a hydrocolloid cold "
        "sore patch, ATC D, M02 or N01B; codelists dose_forms_patch and acts_locally; a testosterone or "
        "estradiol gel or spray is systemic too: systemic_through_skin), a medicine "
        "(not an appliance: pen needles, lancets, test strips, meters, glucose sensors and transmitters, "
        "insulin-pump pods, infusion sets and reservoirs, "
        "hosiery, dressings, inhaler spacers, catheters, drainage and stoma bags; ATC V07; a medicine "
        "in a pre-filled syringe, a cartridge, or for injection or infusion is a medicine, as is a "
        "product with a medicine's ATC code (APO-go POD is apomorphine); nor an intravenous fluid, "
        "diluent, flush or bag a hospital's orders list beside its medicines: 'Bag', '0.9% Sodium "
        "Chloride', 'Dextrose 5%', 'SW', 'Heparin Flush', unless a drug is in it, it is a treatment strength "
        "(glucose 50%, hypertonic saline) or a tablet), taken "
        "regularly (not 'prn' / "
        "'as needed' / 'as required') and not an acute course (a prescription planned for fewer than "
        "acute_course_days, unless the same drug has been renewed without a break since acute_course_days "
        "or more before as-of: each prescription starting before the last one's refill gap ran out; one "
        "course alone is judged by its planned length, also in the refill gap after it). A "
        "drug is taken on as-of when a prescription of it runs on that day "
        "or ended up to refill_gap_days before it (at most the prescription's own length; none after "
        "a prescription read as stopped). A local form of a drug (a nasal spray, a pessary) is a drug "
        "of its own beside its systemic form, as a topical one is, so it never takes the systemic "
        "form out of the count."
    ),
    windows=(
        "Age and drugs: on the as-of date (a drug is taken when started on or before as-of and ending "
        "on or after as-of minus refill_gap_days, or open-ended; the gap at most the prescription's own "
        "length, none after one read as stopped). Lower-limb neuropathy: present on as-of, however "
        "long ago it was recorded."
    ),
    priority="High when both hold (polypharmacy and a fall-risk drug); otherwise normal.",
    evidence=(
        "due_on",
        "age",
        "leg_codes",
        "active_drug_count",
        "active_drugs",
        "fall_risk_drugs",
        "drugs_not_counted",
    ),
    fingerprint=("leg_codes", "active_drugs", "fall_risk_drugs"),
    codelists=(
        "lower_limb_numbness",
        "lower_limb_numbness_symptoms",
        "fall_risk_drugs",
        "dose_forms_topical",
        "nsaids_topical",
        "dose_forms_patch",  # a patch is topical only when it acts locally (is_topical)
        "acts_locally",
        "systemic_through_skin",
        "nsaids_systemic",  # an NSAID patch acts locally (is_topical)
    ),
    population_codelists=("lower_limb_numbness", "lower_limb_numbness_symptoms"),
    # the polypharmacy count names each drug by the ingredients any drug codelist knows for it
    # (a brand and its generic count once); it counts every drug, listed in a codelist or not
    all_drug_codelists=True,
    parameters=(
        Parameter("min_age", 65, "years", "Age on as-of from which a patient is in the population."),
        days(
            "symptom_lookback_days",
            365,
            "A numbness or paraesthesia symptom code (lower_limb_numbness_symptoms) counts when recorded "
            "in this many days to as-of; a neuropathy counts until resolved.",
        ),
        Parameter(
            "polypharmacy_count",
            5,
            "drugs",
            "Distinct regular systemic medicines that count as polypharmacy.",
        ),
        Parameter(
            "acute_course_days",
            28,
            "days",
            "A prescription planned for fewer days (and not a renewal) is an acute course, not counted.",
        ),
        refill_gap("A medicine"),
    ),
    rationale=(
        "Peripheral neuropathy of the legs impairs proprioception; with sedating drugs or many drugs the "
        "fall risk multiplies. Fall-risk drugs (issue 15) follow AGS Beers Criteria 2023, Table 3, "
        "'History of falls or fractures': antiepileptics, antipsychotics, benzodiazepines, Z-drugs, "
        "antidepressants (TCAs, SSRIs and SNRIs) and opioids; gabapentinoids are antiepileptics there and"
        " Beers 2023 adds their combination with opioids; first-generation antihistamines are strongly "
        "anticholinergic (Table 2). Lithium (N05AN) is not an antipsychotic in this sense and is left "
        "out. A cream, gel, eye drop or other local form of a sedating antihistamine, tricyclic (doxepin "
        "cream) or gabapentinoid is not a fall-risk drug; opioid patches and any form of the sedative "
        "classes are. Five or more regular medicines is the usual polypharmacy definition (WHO Medication"
        " Safety in Polypharmacy 2019; NICE). Polypharmacy (issue 15) counts regular systemic medicines "
        "only, as those definitions do: a cream, eye drop, ear drop or nasal spray is not systemic (a "
        "patch, estradiol, hyoscine or rivastigmine, is, 'transdermal' in its name or not (dm+d's 'Evorel "
        "50 patches'): its drug reaches the blood; a diclofenac, lidocaine or capsaicin patch, or a "
        "compounded 'transdermal' cream or gel, is not), an "
        "appliance (pen needles, test strips, hosiery; review 2026-12: the glucose sensors and pump pods "
        "of the diabetic neuropathy this check targets, Drug Tariff Part IX appliances) is not a medicine "
        "(the review of issue 15), a "
        "'when required' item is not regular, and an acute course (an antibiotic for a week) is not a "
        "regular medicine: under acute_course_days (28, a usual repeat-prescription length) from start to"
        " planned end, unless the same drug has been renewed without a break since acute_course_days or "
        "more before as-of, as a weekly-dispensed long-term drug is (two antibiotic courses a month "
        "apart are two acute courses, not a long-term drug). Review 2026-12, repeat prescribing: a GP "
        "export writes each 28-day repeat issue as a prescription of its own and patients collect the "
        "next a few days late, so with five repeats on staggered cycles one is usually between two "
        "issues on any day; a medicine ended up to refill_gap_days (30, the grace period "
        "pharmacoepidemiology uses to join refills, as the diuretic check reads it) before as-of is "
        "still taken, for the count and for the fall-risk drugs alike. The gap is at most the "
        "prescription's own length, so a 7-day course of diazepam ended 8 days ago is no longer taken; "
        "a drug read as stopped (the export's stopped flag, e.g. FHIR status 'stopped'; else an end "
        "date before start + days_supply - 1, OMOP's convention for a supply run out) is not taken "
        "after its end. Otherwise an end date may be an issue's end or a stop, and the gap follows it "
        "(refill_gap_days = 0 where end dates are stop dates); an issue replaced the day after it "
        "ends is unbroken use (a weekly compliance pack collected early). Inhalers and injections "
        "count. Drugs "
        "left out are listed in drugs_not_counted. Drugs are counted as distinct ingredients or "
        "ingredient sets: a renewal or a dose change counts once, a combination product counts as one "
        "drug, a brand and its generic count once when any drug codelist knows the ingredient (the "
        "codelists only name drugs; they do not choose which drugs count). For drugs no "
        "codelist covers, identity comes from the ATC code (the row's own, or the one its name carries "
        "elsewhere in the export), then the name without strength, form or RxNorm's leading quantities "
        "(drug_stem; rows of one RxNorm code take the code's name) and without a salt written after the "
        "name (review 2026-12: 'Losartan potassium 50mg' then 'Losartan 100mg' is one drug, as is "
        "'Amlodipine besilate' beside 'Amlodipine'; 'Potassium chloride' keeps its first word and is a "
        "drug of its own beside losartan potassium). Never the RxNorm code itself (review "
        "2026-12): an RxNorm clinical drug names one strength, so a dose change (amlodipine 2.5 mg to 5 "
        "mg, the old strength still taken in its refill gap) or a switch to modified release would count "
        "as two drugs; two strengths of one drug taken together (warfarin 1 mg and 3 mg) are one. The "
        "lower-limb codelist leaves out codes without a body site (R20.x, SNOMED numbness) and arm "
        "mononeuropathies. A neuropathy is chronic, so it counts until its resolved date however long ago"
        " it was recorded; a resolved date equal to the recorded date is the end of a visit's record "
        "(OMOP ETLs from claims, encounter-based exports), not of the neuropathy, as for cirrhosis and "
        "CKD (review 2026-12-07). Review 2026-11: the SNOMED CT side mirrors the ICD-10-CM codes listed, "
        "so diabetic peripheral (distal, sensory or painful) neuropathy of any diabetes type (as E08-E13"
        " .42) and the polyneuropathies of G60-G63 are lower-limb; the choice left open is diabetic "
        "neuropathy coded without its kind (SNOMED 230572002 and its type 2 sibling, as E1x.40) and "
        "diabetic mononeuropathy (230577008, as E1x.41): both stay out, as their ICD-10-CM codes do, "
        "because they do not say the legs (autonomic or cranial neuropathy, amyotrophy, a mononeuropathy"
        " of the arm). Fall-risk drugs are matched by UK and US brand names too (Zamadol, Tramacet, "
        "Solpadol, Targinact, Matrifen, Transtec, Temgesic, Physeptone, Remedeine, meptazinol, "
        "diamorphine; over-the-counter codeine and dihydrocodeine combinations such as Nurofen Plus, "
        "Migraleve, Syndol, Solpadeine Plus/Max and Paramol; Frisium, Mogadon, Buccolam; Biquelle, "
        "Serenace; Oxactin, Vensir; Ucerax); Feminax Ultra is naproxen and no opioid. Age counts in "
        "completed years; a 29 February birthday is reached on 28 "
        "February in non-leap years."
    ),
    clears=(
        "Fewer than polypharmacy_count distinct regular systemic medicines and no fall-risk drug "
        "(benzodiazepine, Z-drug, opioid, sedating antihistamine, gabapentinoid, tricyclic, SNRI, SSRI, "
        "antiepileptic, antipsychotic) taken on the as-of date, after a medication review: a drug "
        "stopped more than refill_gap_days before as-of (or a short course past its own length), or "
        "read as stopped before as-of."
    ),
)
