"""Older patients with lower-limb numbness on many drugs or on a drug that raises fall risk."""

from checks.framework import CheckDefinition, Parameter

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
        "356.x, 357.x; SNOMED-CT polyneuropathy concepts). Patients without a birth date are left out."
    ),
    flag=(
        "polypharmacy_count or more distinct drugs active on as-of, or an active fall-risk drug: "
        "benzodiazepine, Z-drug, opioid or sedating (first-generation) antihistamine."
    ),
    windows=(
        "Age and drugs: on the as-of date (a drug is active when started on or before as-of and ending "
        "on or after as-of, or open-ended). Lower-limb neuropathy: present on as-of, however long ago it "
        "was recorded."
    ),
    priority="High when both hold (polypharmacy and a fall-risk drug); otherwise normal.",
    evidence=("age", "leg_codes", "active_drug_count", "active_drugs", "fall_risk_drugs"),
    codelists=("lower_limb_numbness", "fall_risk_drugs", "dose_forms_topical"),
    parameters=(
        Parameter("min_age", 65, "years", "Age on as-of from which a patient is in the population."),
        Parameter("polypharmacy_count", 5, "drugs", "Distinct active drugs that count as polypharmacy."),
    ),
    rationale=(
        "Peripheral neuropathy of the legs impairs proprioception; with sedating drugs or many drugs the "
        "fall risk multiplies (AGS Beers 2023: avoid benzodiazepines, Z-drugs and opioids after falls; "
        "first-generation antihistamines are anticholinergic). Five or more regular drugs is the usual "
        "polypharmacy definition (WHO, NICE). Drugs are counted as distinct ingredients or ingredient "
        "sets: a renewal or a dose change counts once, a combination product counts as one drug, a "
        "brand and its generic count once when the codelists know the ingredient. For drugs no codelist "
        "covers, identity comes from the RxNorm code, then an RxNorm code seen elsewhere in the export "
        "for the same name, then the ATC code, then the name without strength and form; a topical form "
        "counts separately from an oral one of the same ingredient, as it is a separate item on the "
        "medication list. Topical sedating antihistamines (creams) are not fall-risk drugs; opioid "
        "patches are, because they are systemic. The lower-limb codelist leaves out codes without a body "
        "site (R20.x, SNOMED numbness) and arm mononeuropathies. A neuropathy is chronic, so it counts "
        "until its resolved date however long ago it was recorded. Age counts in completed years; a "
        "29 February birthday is reached on 28 February in non-leap years."
    ),
    clears=(
        "Fewer than polypharmacy_count distinct active drugs and no active fall-risk drug "
        "(benzodiazepine, Z-drug, opioid, sedating antihistamine) on the as-of date, after a medication "
        "review."
    ),
)
