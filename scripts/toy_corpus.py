"""Synthetic Bonito-format training examples for the bundled toy model.

Each example is one passage and one task of one of Bonito's 16 task types, built from facts
the generator knows about that passage. Passages are either generated from a template
(office memos, clinic notes, product wiki pages, contracts, customer reviews, incident
reports, meeting minutes, handbook pages) with names, places, numbers and dates drawn at
random, half of them from the tokenizer's own vocabulary, or real prose paragraphs whose
tasks come from their sentences (``toy_prose.py``). Every extractive answer is a literal span
of its passage, and each task type is asked in several phrasings, as Bonito's training data
was made from many prompt templates. The training text is exactly what Bonito sees and
writes::

    build_prompt(full_task_type, passage) + task_input + "<|pipe|> " + task_output

(the trainer appends end-of-sequence). Like Bonito's own outputs, task inputs usually
refer to the passage through the literal ``{{context}}`` placeholder, sometimes quote a
short passage verbatim, and sometimes do not mention it at all.

    python scripts/toy_corpus.py --count 5 --seed 1     # print a few examples
"""

from __future__ import annotations

import argparse
import functools
import random
import re
from dataclasses import dataclass, field

from bonito_lite.prompt import CONTEXT_PLACEHOLDER, PIPE, build_prompt
from bonito_lite.task_types import resolve_task_type

import toy_prose

FIRST_NAMES = (
    "Dana Marco Priya Tomasz Aiko Femi Lucia Jonas Mei Omar Sofia Liam Ingrid Ravi Chloe "
    "Mateo Hana Kwame Elena Felix Nadia Diego Yusuf Greta Arjun Zoe Pavel Amara Hugo Leila "
    "Soren Nia Ethan Rosa Kenji Alice Bruno Fatima Oskar Maya Tariq Clara Viktor Imani Noah "
    "Beatriz Samir Lena Caleb Anika"
).split()
LAST_NAMES = (
    "Whitfield Ruiz Sharma Nowak Tanaka Adeyemi Romano Berg Chen Haddad Rossi Walsh Larsen "
    "Iyer Dubois Alvarez Kim Mensah Petrova Braun Karimi Ortega Demir Lindqvist Rao Moreau "
    "Volkov Okafor Laurent Farah Madsen Ncube Carter Silva Mori Grant Costa Rahman Holm "
    "Novak Aziz Fischer Ivanova Osei Becker Santos Qureshi Keller Hayes Bianchi"
).split()
CITIES = (
    "Lisbon Denver Osaka Nairobi Leeds Porto Austin Krakow Lyon Pune Halifax Tartu Ghent "
    "Bergen Cordoba Tampere Dayton Malmo Graz Mombasa Perth Quito Valencia Utrecht Boise "
    "Aarhus Kyoto Bilbao Salem Turin"
).split()
COMPANIES = (
    "Northwind Logistics|Bluepeak Analytics|Harbor & Vale LLP|Cedar Health Group|Orbitline Systems|"
    "Greystone Foods|Lumen Robotics|Kestrel Insurance|Maple Ridge Dental|Tidewater Energy|"
    "Pinecrest Software|Ironleaf Manufacturing|Silverline Media|Redfern Clinics|Atlas Freight|"
    "Brightwater Labs|Copperfield Retail|Summit Pharma|Willow Creek Bank|Quarry Street Studio"
).split("|")
TEAMS = (
    "finance|engineering|legal|operations|marketing|sales|support|research|procurement|"
    "human resources|security|design|data platform|facilities|quality assurance"
).split("|")
ROLES = (
    "head of operations|chief financial officer|project manager|staff engineer|office manager|"
    "legal counsel|product owner|team lead|nurse practitioner|HR partner|director of sales"
).split("|")
MONTHS = ("January February March April May June July August September October November December").split()
WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday".split()
ROOMS = "Room 4B|the Atrium|Conference Room 2|the third-floor lounge|Room 118|the Harbor Room|the library".split("|")
PRODUCTS = (
    "Relay|Quill|Beacon|Ledgerline|Skyframe|Tessera|Nimbus Sync|Paperkite|Halyard|Vantage|"
    "Driftwood|Copperplate|Fathom|Sparrow|Keystone|Lattice"
).split("|")
FEATURES = (
    "offline mode|single sign-on|bulk export|audit logging|dark mode|two-factor login|"
    "scheduled reports|role-based access|a REST API|CSV import|usage dashboards|automatic backups"
).split("|")
PLATFORMS = "Windows|macOS|Linux|iOS|Android|the web".split("|")
COMPLAINTS = (
    "persistent cough|lower back pain|recurring headaches|a sprained ankle|seasonal allergies|"
    "high blood pressure|trouble sleeping|a skin rash|knee pain|mild fever"
).split("|")
MEDICATIONS = (
    "ibuprofen|amoxicillin|loratadine|lisinopril|naproxen|cetirizine|metformin|omeprazole|"
    "hydrocortisone cream|paracetamol"
).split("|")
SYSTEMS = (
    "payment gateway|login service|search cluster|billing database|email relay|file storage|"
    "mobile API|reporting pipeline|VPN|order queue"
).split("|")
CAUSES = (
    "an expired certificate|a full disk|a bad configuration change|a network partition|"
    "a memory leak|a failed database migration|a power outage in the data center|"
    "a misrouted DNS record"
).split("|")
FIXES = (
    "renewing the certificate|freeing disk space|rolling back the change|restarting the affected nodes|"
    "failing over to the standby|patching the service|rerouting traffic"
).split("|")
TOPICS = (
    "office administration",
    "health",
    "technology",
    "law",
    "shopping",
    "operations",
    "business",
)

POSITIVE_TONE = (
    "Everyone involved was pleased with the outcome.",
    "The feedback so far has been very positive.",
    "This is great news for the whole team.",
    "We are delighted with the progress made.",
    "The results exceeded expectations.",
)
NEGATIVE_TONE = (
    "Unfortunately, the situation has been frustrating for everyone involved.",
    "Several people have complained about the delays.",
    "This is disappointing news for the team.",
    "The results fell well short of expectations.",
    "Sadly, the problems have not been resolved yet.",
)
FILLER = (
    "Please keep this information confidential.",
    "Further details will be shared once they are confirmed.",
    "Questions can be sent to the usual address.",
    "A copy of this document is stored in the shared drive.",
    "This note replaces any earlier version.",
    "All times are given in local time.",
    "The previous arrangement remains in place until then.",
    "Thanks to everyone who contributed.",
    "No further action is needed from most readers.",
    "The figures above are preliminary and may change.",
)


@dataclass
class Fact:
    """Something the passage states: a question, its answer (a span of the passage), a
    declarative sentence saying it, and the same sentence made false."""

    question: str
    answer: str
    statement: str
    false_statement: str
    distractors: tuple[str, ...] = ()
    # The sentence that states it with the answer replaced by "___", when there is one.
    blanked: str = ""


@dataclass
class Passage:
    text: str
    topic: str
    sentiment: str  # "positive", "negative", or "" when the passage has no clear tone
    summary: str  # "" when there is none
    facts: list[Fact]
    # Pairs of sentences that say the same thing, for paraphrase tasks.
    paraphrases: list[tuple[str, str]] = field(default_factory=list)
    # A sentence about something the passage does not mention (neutral for NLI).
    unrelated: str = ""


# Share of names and cities drawn from the tokenizer's vocabulary instead of the lists above:
# answers that cannot be memorised are what teach the model to copy from the passage.
INVENTED_SHARE = 0.5
# Share of invented words (names, cities, the words perturbed prose swaps in) cut by the
# tokenizer into several pieces (toy_prose.invented_word).
SPLIT_WORD_SHARE = 0.0


def _person(rng: random.Random) -> str:
    if rng.random() < INVENTED_SHARE:
        return toy_prose.invented_name(rng, SPLIT_WORD_SHARE)
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _city(rng: random.Random) -> str:
    if rng.random() < INVENTED_SHARE:
        return toy_prose.invented_word(rng, True, SPLIT_WORD_SHARE)
    return rng.choice(CITIES)


def _other(rng: random.Random, pool, value, k: int = 3) -> tuple[str, ...]:
    choices = [p for p in pool if p != value]
    return tuple(rng.sample(choices, k))


def _date(rng: random.Random) -> str:
    style = rng.random()
    month, day, year = rng.choice(MONTHS), rng.randint(1, 28), rng.randint(2019, 2027)
    if style < 0.5:
        return f"{month} {day}, {year}"
    if style < 0.8:
        return f"{day} {month} {year}"
    return f"{year}-{MONTHS.index(month) + 1:02d}-{day:02d}"


def _dates(rng: random.Random, k: int) -> list[str]:
    out: list[str] = []
    while len(out) < k:
        d = _date(rng)
        if d not in out:
            out.append(d)
    return out


def _people(rng: random.Random, k: int) -> list[str]:
    out: list[str] = []
    while len(out) < k:
        p = _person(rng)
        if p not in out:
            out.append(p)
    return out


def _money(rng: random.Random) -> str:
    amount = rng.choice([rng.randint(2, 95) * 100, rng.randint(1, 60) * 1000, rng.randint(100, 9999)])
    return rng.choice(["$", "EUR ", "£"]) + f"{amount:,}"


def _assemble(rng: random.Random, sentences: list[str], tone: str, paragraphs: bool = True) -> str:
    """Join sentences with optional filler, occasionally split into paragraphs."""
    body = list(sentences)
    for _ in range(rng.choice([0, 0, 1, 2, 3])):
        body.insert(rng.randint(1, len(body)), rng.choice(FILLER))
    body.insert(rng.randint(1, len(body)), tone)
    if paragraphs and len(body) > 4 and rng.random() < 0.5:
        cut = rng.randint(2, len(body) - 2)
        return " ".join(body[:cut]) + "\n\n" + " ".join(body[cut:])
    return " ".join(body)


def _tone(rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.5:
        return "positive", rng.choice(POSITIVE_TONE)
    return "negative", rng.choice(NEGATIVE_TONE)


def office_memo(rng: random.Random) -> Passage:
    sender, other, attendee = _people(rng, 3)
    role, team = rng.choice(ROLES), rng.choice(TEAMS)
    date, deadline, wrong_date = _dates(rng, 3)
    room = rng.choice(ROOMS)
    wrong_room = rng.choice([r for r in ROOMS if r != room])
    city = _city(rng)
    budget = _money(rng)
    weekday = rng.choice(WEEKDAYS)
    sentiment, tone = _tone(rng)
    subject = rng.choice(
        [
            "the quarterly review",
            "the office move",
            "the new expense policy",
            "the hiring plan",
            "the vendor audit",
            "the budget freeze",
        ]
    )
    opener = rng.choice(
        [
            f"MEMO\nFrom: {sender}, {role}\nTo: the {team} team\nDate: {date}\nSubject: {subject.capitalize()}\n\n",
            f"Memo from {sender} ({role}) to the {team} team, dated {date}.\n\n",
            f"To all staff in {team}:\n\n",
        ]
    )
    meet = rng.choice(
        [
            (
                f"The meeting about {subject} will take place on {weekday} in {room} at the {city} office.",
                f"On {weekday}, the {city} office will host the meeting about {subject} in {room}.",
            ),
            (
                f"We will discuss {subject} on {weekday} in {room} of our {city} office.",
                f"{subject.capitalize()} is on the agenda for {weekday}, in {room} at the {city} office.",
            ),
        ]
    )
    money = rng.choice(
        [
            (
                f"The approved budget for this work is {budget}.",
                f"A budget of {budget} has been approved for this work.",
            ),
            (f"Spending on {subject} is capped at {budget}.", f"No more than {budget} may be spent on {subject}."),
        ]
    )
    due = (
        f"All reports must be submitted to {other} by {deadline}.",
        f"{other} expects every report no later than {deadline}.",
    )
    attend = (f"{attendee} will present the main findings.", f"The main findings will be presented by {attendee}.")
    sentences = [meet[0], money[0], due[0], attend[0]]
    rng.shuffle(sentences)
    if not opener.startswith("MEMO") and not opener.startswith("Memo"):
        sentences.append(f"Regards, {sender}, {role}.")
    text = opener + _assemble(rng, sentences, tone)
    facts = [
        Fact(
            "Who sent the memo?",
            sender,
            f"The memo was sent by {sender}.",
            f"The memo was sent by {attendee}.",
            (other, attendee, _person(rng)),
        ),
        Fact(
            f"Where will the meeting about {subject} take place?",
            room,
            f"The meeting will take place in {room}.",
            f"The meeting will take place in {wrong_room}.",
            _other(rng, ROOMS, room),
        ),
        Fact(
            "What is the approved budget?",
            budget,
            f"The budget is {budget}.",
            f"The budget is {_money(rng)}.",
            (_money(rng), _money(rng), _money(rng)),
        ),
        Fact(
            "When are the reports due?",
            deadline,
            f"Reports are due by {deadline}.",
            f"Reports are due by {wrong_date}.",
            (wrong_date, date, _date(rng)),
        ),
        Fact(
            "Who will present the main findings?",
            attendee,
            f"{attendee} will present the findings.",
            f"{other} will present the findings.",
            (sender, other, _person(rng)),
        ),
        Fact(
            "In which city is the office?",
            city,
            f"The office is in {city}.",
            f"The office is in {rng.choice([c for c in CITIES if c != city])}.",
            _other(rng, CITIES, city),
        ),
    ]
    summary = rng.choice(
        [
            f"{sender} tells the {team} team about a {weekday} meeting on {subject} and asks for reports by {deadline}.",
            f"The memo announces a meeting on {subject} in {room} and sets a budget of {budget}.",
            f"A memo about {subject}: meeting on {weekday}, budget {budget}, reports due {deadline}.",
        ]
    )
    return Passage(
        text,
        "office administration",
        sentiment,
        summary,
        facts,
        [meet, money, due, attend],
        f"The {team} team will hire {rng.randint(2, 9)} new people.",
    )


def clinic_note(rng: random.Random) -> Passage:
    patient, doctor = _people(rng, 2)
    age = rng.randint(18, 88)
    complaint = rng.choice(COMPLAINTS)
    medication = rng.choice(MEDICATIONS)
    dose = f"{rng.choice([5, 10, 20, 25, 50, 100, 200, 250, 400, 500])} mg"
    times = rng.choice(["once a day", "twice a day", "three times a day", "every eight hours"])
    visit, follow_up = _dates(rng, 2)
    weeks = rng.randint(1, 8)
    bp = f"{rng.randint(105, 165)}/{rng.randint(65, 100)}"
    sentiment, tone = _tone(rng)
    opener = rng.choice(
        [
            f"Clinic note, {visit}. Patient: {patient}, age {age}. Attending: Dr. {doctor}.\n\n",
            f"Visit summary ({visit})\nPatient: {patient} ({age} years)\nClinician: Dr. {doctor}\n\n",
            f"On {visit}, Dr. {doctor} saw {patient}, a {age}-year-old patient.\n\n",
        ]
    )
    present = (
        f"The patient reports {complaint} for the past {weeks} weeks.",
        f"For {weeks} weeks the patient has had {complaint}.",
    )
    vitals = (f"Blood pressure was measured at {bp}.", f"A blood pressure of {bp} was recorded.")
    plan = (
        f"Dr. {doctor} prescribed {medication} {dose} {times}.",
        f"The plan is {medication}, {dose}, taken {times}, as prescribed by Dr. {doctor}.",
    )
    follow = (
        f"A follow-up visit is booked for {follow_up}.",
        f"The patient will return on {follow_up} for a follow-up.",
    )
    sentences = [present[0], vitals[0], plan[0], follow[0]]
    rng.shuffle(sentences)
    text = opener + _assemble(rng, sentences, tone)
    facts = [
        Fact(
            "What medication was prescribed?",
            medication,
            f"The patient was prescribed {medication}.",
            f"The patient was prescribed {rng.choice([m for m in MEDICATIONS if m != medication])}.",
            _other(rng, MEDICATIONS, medication),
        ),
        Fact(
            "What does the patient complain of?",
            complaint,
            f"The patient has {complaint}.",
            f"The patient has {rng.choice([c for c in COMPLAINTS if c != complaint])}.",
            _other(rng, COMPLAINTS, complaint),
        ),
        Fact(
            "When is the follow-up visit?",
            follow_up,
            f"The follow-up is on {follow_up}.",
            f"The follow-up is on {_date(rng)}.",
            (visit, _date(rng), _date(rng)),
        ),
        Fact(
            "How old is the patient?",
            str(age),
            f"The patient is {age} years old.",
            f"The patient is {age + rng.randint(3, 20)} years old.",
            tuple(str(age + d) for d in (4, -3, 11)),
        ),
        Fact(
            "What was the blood pressure?",
            bp,
            f"The blood pressure was {bp}.",
            f"The blood pressure was {rng.randint(105, 165)}/{rng.randint(65, 100)}.",
            ("120/80", "150/95", "110/70"),
        ),
        Fact(
            "What dose was prescribed?",
            dose,
            f"The dose is {dose}.",
            "The dose is 1000 mg.",
            ("1000 mg", "75 mg", "2 mg"),
        ),
    ]
    summary = rng.choice(
        [
            f"{patient}, {age}, presents with {complaint} and is started on {medication}; follow-up on {follow_up}.",
            f"Dr. {doctor} treats {patient} for {complaint} with {medication} {dose}.",
            f"A {age}-year-old patient with {complaint} receives {medication} and returns on {follow_up}.",
        ]
    )
    return Passage(
        text,
        "health",
        sentiment,
        summary,
        facts,
        [present, vitals, plan, follow],
        f"The patient has a brother living in {rng.choice(CITIES)}.",
    )


def product_wiki(rng: random.Random) -> Passage:
    product = rng.choice(PRODUCTS)
    owner = _person(rng)
    team = rng.choice(TEAMS)
    major, minor = rng.randint(1, 9), rng.randint(0, 19)
    version = f"{major}.{minor}"
    release = _date(rng)
    feature = rng.choice(FEATURES)
    platforms = rng.sample(PLATFORMS, 2)
    limit = rng.choice([50, 100, 250, 500, 1000, 5000])
    company = rng.choice(COMPANIES)
    sentiment, tone = _tone(rng)
    opener = rng.choice(
        [
            f"# {product}\n\n",
            f"{product} (internal wiki)\n\n",
            f"Product page: {product} {version}\n\n",
            "",
        ]
    )
    what = (
        f"{product} is a tool built by {company} for the {team} team.",
        f"{company} built {product} as a tool for its {team} team.",
    )
    rel = (
        f"Version {version} was released on {release} and adds {feature}.",
        f"{feature.capitalize()} arrived in version {version}, released on {release}.",
    )
    plat = (
        f"It runs on {platforms[0]} and {platforms[1]}.",
        f"Supported platforms are {platforms[0]} and {platforms[1]}.",
    )
    lim = (f"Each workspace can hold up to {limit} users.", f"The limit is {limit} users per workspace.")
    own = (f"The product owner is {owner}.", f"{owner} owns the product.")
    sentences = [what[0], rel[0], plat[0], lim[0], own[0]]
    rng.shuffle(sentences)
    text = opener + _assemble(rng, sentences, tone)
    facts = [
        Fact(
            f"Who owns {product}?",
            owner,
            f"{owner} is the owner of {product}.",
            f"{_person(rng)} is the owner of {product}.",
            (_person(rng), _person(rng), _person(rng)),
        ),
        Fact(
            f"What feature does version {version} add?",
            feature,
            f"Version {version} adds {feature}.",
            f"Version {version} adds {rng.choice([f for f in FEATURES if f != feature])}.",
            _other(rng, FEATURES, feature),
        ),
        Fact(
            f"When was version {version} released?",
            release,
            f"Version {version} came out on {release}.",
            f"Version {version} came out on {_date(rng)}.",
            (_date(rng), _date(rng), _date(rng)),
        ),
        Fact(
            "How many users can a workspace hold?",
            str(limit),
            f"A workspace holds up to {limit} users.",
            f"A workspace holds up to {limit * 3} users.",
            (str(limit * 2), str(limit * 10), "20"),
        ),
        Fact(
            f"Which company built {product}?",
            company,
            f"{product} was built by {company}.",
            f"{product} was built by {rng.choice([c for c in COMPANIES if c != company])}.",
            _other(rng, COMPANIES, company),
        ),
    ]
    summary = rng.choice(
        [
            f"{product} is a {company} tool; version {version} adds {feature} and runs on {platforms[0]} and {platforms[1]}.",
            f"The page describes {product} {version}, owned by {owner}, with up to {limit} users per workspace.",
            f"{product} {version}, released {release}, brings {feature}.",
        ]
    )
    return Passage(
        text,
        "technology",
        sentiment,
        summary,
        facts,
        [what, rel, plat, lim, own],
        f"{product} will be translated into {rng.randint(3, 12)} languages.",
    )


def contract(rng: random.Random) -> Passage:
    a, b = rng.sample(COMPANIES, 2)
    effective = _date(rng)
    months = rng.choice([6, 12, 18, 24, 36, 48])
    amount = _money(rng)
    notice = rng.choice([15, 30, 45, 60, 90])
    law = _city(rng)
    signer = _person(rng)
    sentiment, tone = _tone(rng)
    opener = rng.choice(
        [
            f"SERVICE AGREEMENT\n\nThis agreement is made between {a} (the Client) and {b} (the Provider).\n\n",
            f"Agreement between {a} and {b}, effective {effective}.\n\n",
            f'Section 1. Parties. {a} ("Client") and {b} ("Provider").\n\n',
        ]
    )
    term = (
        f"The agreement takes effect on {effective} and runs for {months} months.",
        f"Starting on {effective}, the agreement lasts {months} months.",
    )
    pay = (
        f"The Client shall pay the Provider {amount} per month.",
        f"A monthly fee of {amount} is payable by the Client to the Provider.",
    )
    end = (
        f"Either party may terminate the agreement with {notice} days written notice.",
        f"Termination requires {notice} days of written notice from either party.",
    )
    gov = (
        f"This agreement is governed by the laws applicable in {law}.",
        f"The laws applicable in {law} govern this agreement.",
    )
    sign = (f"It was signed on behalf of the Client by {signer}.", f"{signer} signed for the Client.")
    sentences = [term[0], pay[0], end[0], gov[0], sign[0]]
    rng.shuffle(sentences)
    text = opener + _assemble(rng, sentences, tone)
    facts = [
        Fact(
            "How much does the Client pay per month?",
            amount,
            f"The monthly fee is {amount}.",
            f"The monthly fee is {_money(rng)}.",
            (_money(rng), _money(rng), _money(rng)),
        ),
        Fact(
            "How many days of notice are required to terminate?",
            str(notice),
            f"Termination needs {notice} days of notice.",
            f"Termination needs {notice + 7} days of notice.",
            tuple(str(n) for n in (notice + 7, notice * 2, 5)),
        ),
        Fact(
            "How long does the agreement run?",
            f"{months} months",
            f"The agreement runs for {months} months.",
            f"The agreement runs for {months + 6} months.",
            (f"{months + 6} months", "3 months", "10 years"),
        ),
        Fact(
            "Which laws govern the agreement?",
            f"the laws applicable in {law}",
            f"The agreement is governed by the laws applicable in {law}.",
            f"The agreement is governed by the laws applicable in {rng.choice([c for c in CITIES if c != law])}.",
            tuple(f"the laws applicable in {c}" for c in _other(rng, CITIES, law)),
        ),
        Fact(
            "Who signed for the Client?",
            signer,
            f"{signer} signed the agreement for the Client.",
            f"{_person(rng)} signed the agreement for the Client.",
            (_person(rng), _person(rng), _person(rng)),
        ),
        Fact(
            "Who is the Provider?",
            b,
            f"{b} is the Provider.",
            f"{a} is the Provider.",
            (a, *_other(rng, COMPANIES, b, 2)),
        ),
    ]
    summary = rng.choice(
        [
            f"{a} hires {b} for {months} months at {amount} per month, with {notice} days notice to terminate.",
            f"A service agreement between {a} and {b} starting {effective}.",
            f"The contract sets a {months}-month term, a monthly fee of {amount} and {law} law.",
        ]
    )
    return Passage(
        text,
        "law",
        sentiment,
        summary,
        facts,
        [term, pay, end, gov, sign],
        f"{b} has offices in {rng.randint(2, 30)} countries.",
    )


def review(rng: random.Random) -> Passage:
    product = rng.choice(PRODUCTS)
    reviewer = _person(rng)
    company = rng.choice(COMPANIES)
    stars = rng.randint(1, 5)
    sentiment = "positive" if stars >= 4 else "negative" if stars <= 2 else rng.choice(["positive", "negative"])
    price = _money(rng)
    days = rng.randint(2, 40)
    city = _city(rng)
    good = rng.choice(
        [
            "It works exactly as described and setup took minutes.",
            "The support staff were friendly and quick to help.",
            "I love how easy it is to use every day.",
            "Honestly the best purchase I have made this year.",
        ]
    )
    bad = rng.choice(
        [
            "It stopped working after a few days and nobody answered my emails.",
            "The instructions were confusing and parts were missing.",
            "I regret buying it and would not recommend it.",
            "It is slow, noisy and far too expensive for what it does.",
        ]
    )
    opener = rng.choice([f"Review by {reviewer}, {city}\n\n", f"Customer feedback ({stars} of 5 stars)\n\n", ""])
    bought = (f"I bought {product} from {company} for {price}.", f"{product} cost me {price} from {company}.")
    ship = (f"Delivery took {days} days.", f"It arrived after {days} days.")
    rating = (f"I give it {stars} out of 5 stars.", f"My rating is {stars} stars out of 5.")
    opinion = good if sentiment == "positive" else bad
    sentences = [bought[0], ship[0], opinion, rating[0]]
    text = opener + " ".join(sentences)
    facts = [
        Fact(
            "How much did the product cost?",
            price,
            f"The product cost {price}.",
            f"The product cost {_money(rng)}.",
            (_money(rng), _money(rng), _money(rng)),
        ),
        Fact(
            "How long did delivery take?",
            f"{days} days",
            f"Delivery took {days} days.",
            f"Delivery took {days + 5} days.",
            (f"{days + 5} days", "1 day", f"{days * 3} days"),
        ),
        Fact(
            "How many stars does the reviewer give?",
            str(stars),
            f"The reviewer gives {stars} stars.",
            f"The reviewer gives {6 - stars if stars != 3 else 5} stars.",
            tuple(str(s) for s in range(1, 6) if s != stars)[:3],
        ),
        Fact(
            "Where was the product bought?",
            company,
            f"The product was bought from {company}.",
            f"The product was bought from {rng.choice([c for c in COMPANIES if c != company])}.",
            _other(rng, COMPANIES, company),
        ),
    ]
    summary = (
        f"A {sentiment} review of {product}, rated {stars} out of 5."
        if rng.random() < 0.5
        else f"The customer {'recommends' if sentiment == 'positive' else 'does not recommend'} {product}."
    )
    return Passage(
        text,
        "shopping",
        sentiment,
        summary,
        facts,
        [bought, ship, rating],
        f"The reviewer owns {rng.randint(2, 6)} other products from {company}.",
    )


def incident_report(rng: random.Random) -> Passage:
    system = rng.choice(SYSTEMS)
    cause, fix = rng.choice(CAUSES), rng.choice(FIXES)
    engineer = _person(rng)
    date = _date(rng)
    start = f"{rng.randint(0, 23):02d}:{rng.choice(['00', '15', '30', '45'])}"
    minutes = rng.choice([12, 25, 40, 55, 90, 130, 240])
    customers = rng.randint(10, 9000)
    sentiment, tone = _tone(rng)
    opener = rng.choice([f"Incident report: {system} outage\n\n", f"Postmortem, {date}\n\n", ""])
    what = (
        f"On {date} at {start}, the {system} went down for {minutes} minutes.",
        f"The {system} was unavailable for {minutes} minutes starting at {start} on {date}.",
    )
    why = (f"The root cause was {cause}.", f"Investigation found that {cause} caused the outage.")
    how = (f"{engineer} restored service by {fix}.", f"Service came back after {engineer} finished {fix}.")
    who = (f"About {customers} customers were affected.", f"The outage affected roughly {customers} customers.")
    sentences = [what[0], why[0], how[0], who[0]]
    text = opener + _assemble(rng, sentences, tone)
    facts = [
        Fact(
            "What caused the outage?",
            cause,
            f"The outage was caused by {cause}.",
            f"The outage was caused by {rng.choice([c for c in CAUSES if c != cause])}.",
            _other(rng, CAUSES, cause),
        ),
        Fact(
            "How long did the outage last?",
            f"{minutes} minutes",
            f"The outage lasted {minutes} minutes.",
            f"The outage lasted {minutes + 30} minutes.",
            (f"{minutes + 30} minutes", "5 minutes", "two days"),
        ),
        Fact(
            "Who restored the service?",
            engineer,
            f"{engineer} restored the service.",
            f"{_person(rng)} restored the service.",
            (_person(rng), _person(rng), _person(rng)),
        ),
        Fact(
            "Which system went down?",
            f"the {system}",
            f"The {system} went down.",
            f"The {rng.choice([s for s in SYSTEMS if s != system])} went down.",
            tuple(f"the {s}" for s in _other(rng, SYSTEMS, system)),
        ),
        Fact(
            "How many customers were affected?",
            str(customers),
            f"About {customers} customers were affected.",
            f"About {customers * 2 + 7} customers were affected.",
            (str(customers * 2 + 7), "3", str(customers + 500)),
        ),
    ]
    summary = rng.choice(
        [
            f"The {system} failed for {minutes} minutes because of {cause}; {engineer} fixed it.",
            f"An outage of the {system} on {date}, caused by {cause}, affected about {customers} customers.",
        ]
    )
    return Passage(
        text,
        "operations",
        sentiment,
        summary,
        facts,
        [what, why, how, who],
        f"The {system} will be replaced next year.",
    )


def meeting_minutes(rng: random.Random) -> Passage:
    chair, secretary, guest = _people(rng, 3)
    company = rng.choice(COMPANIES)
    date, next_date = _dates(rng, 2)
    city = _city(rng)
    revenue = _money(rng)
    growth = rng.randint(2, 45)
    hires = rng.randint(2, 40)
    sentiment, tone = _tone(rng)
    opener = rng.choice(
        [
            f"Minutes of the board meeting of {company}, {date}\n\n",
            f"{company} board meeting, held in {city} on {date}.\n\n",
            f"Minutes ({date})\n\n",
        ]
    )
    chairing = (
        f"{chair} chaired the meeting and {secretary} took the minutes.",
        f"The meeting was chaired by {chair}, with {secretary} as secretary.",
    )
    money = (
        f"Quarterly revenue reached {revenue}, up {growth} percent.",
        f"Revenue for the quarter grew {growth} percent to {revenue}.",
    )
    hiring = (
        f"The board approved {hires} new hires for the {city} office.",
        f"{hires} new positions in {city} were approved by the board.",
    )
    nxt = (f"The next meeting is set for {next_date}.", f"The board will meet again on {next_date}.")
    talk = (
        f"{guest} gave a presentation on the new strategy.",
        f"A presentation on the new strategy was given by {guest}.",
    )
    sentences = [chairing[0], money[0], hiring[0], talk[0], nxt[0]]
    text = opener + _assemble(rng, sentences, tone)
    facts = [
        Fact(
            "Who chaired the meeting?",
            chair,
            f"{chair} chaired the meeting.",
            f"{secretary} chaired the meeting.",
            (secretary, guest, _person(rng)),
        ),
        Fact(
            "What was the quarterly revenue?",
            revenue,
            f"Revenue was {revenue}.",
            f"Revenue was {_money(rng)}.",
            (_money(rng), _money(rng), _money(rng)),
        ),
        Fact(
            "By how many percent did revenue grow?",
            f"{growth} percent",
            f"Revenue grew {growth} percent.",
            f"Revenue grew {growth + 10} percent.",
            (f"{growth + 10} percent", "1 percent", f"{growth * 2} percent"),
        ),
        Fact(
            "How many new hires were approved?",
            str(hires),
            f"The board approved {hires} hires.",
            f"The board approved {hires + 12} hires.",
            (str(hires + 12), "1", str(hires * 3)),
        ),
        Fact(
            "When is the next meeting?",
            next_date,
            f"The next meeting is on {next_date}.",
            f"The next meeting is on {date}.",
            (date, _date(rng), _date(rng)),
        ),
    ]
    summary = rng.choice(
        [
            f"The {company} board reviewed revenue of {revenue} and approved {hires} hires.",
            f"Minutes: revenue up {growth} percent, {hires} hires approved, next meeting {next_date}.",
        ]
    )
    return Passage(
        text,
        "business",
        sentiment,
        summary,
        facts,
        [chairing, money, hiring, nxt, talk],
        f"{company} plans to open a store in {rng.choice(CITIES)}.",
    )


PLACES = (
    ("clinic", "physiotherapist", "patients", "health"),
    ("dental practice", "hygienist", "patients", "health"),
    ("library", "librarian", "members", "office administration"),
    ("warehouse", "shift lead", "drivers", "operations"),
    ("restaurant", "head chef", "guests", "business"),
    ("help desk", "support agent", "callers", "technology"),
    ("law office", "paralegal", "clients", "law"),
    ("bike shop", "mechanic", "customers", "shopping"),
)


def _clock(rng: random.Random, lo: int, hi: int) -> str:
    return f"{rng.randint(lo, hi)}:{rng.choice(['00', '15', '30', '45'])}"


def handbook_page(rng: random.Random) -> Passage:
    """Free-running prose in the style of an internal handbook, with Markdown headings."""
    kind, staff, visitors, topic = rng.choice(PLACES)
    name = f"{rng.choice(CITIES)} {kind.title()}" if rng.random() < 0.5 else f"{rng.choice(LAST_NAMES)} {kind.title()}"
    keeper = _person(rng)
    opens, closes = _clock(rng, 6, 9), _clock(rng, 16, 20)
    saturday = _clock(rng, 12, 14)
    minutes = rng.choice([15, 20, 30, 45, 60, 90])
    fee = _money(rng)
    hours = rng.choice([12, 24, 48, 72])
    code_keeper = rng.choice(ROLES)
    sentiment, tone = _tone(rng)
    heading = rng.choice(["Opening and closing", "Bookings", "Front desk basics", "Daily routine", "House rules"])
    intro = (
        f"This page explains how the {name} runs on a normal week. It is maintained by {keeper}, "
        f"and anyone who finds an error should tell {keeper.split()[0]} so the page can be fixed."
    )
    hours_pair = (
        f"The {kind} opens at {opens} on weekdays and closes at {closes}; on Saturdays it closes at {saturday}.",
        f"On weekdays the doors open at {opens} and close at {closes}, while Saturday closing is at {saturday}.",
    )
    booking = (
        f"New {visitors} are booked into a {minutes}-minute first appointment with any {staff} who has space.",
        f"Any {staff} with a free slot can take a new booking, which lasts {minutes} minutes.",
    )
    cancel = (
        f"Cancellations with less than {hours} hours notice are charged {fee}.",
        f"A fee of {fee} applies when a booking is cancelled less than {hours} hours ahead.",
    )
    keys = (f"The alarm code is kept by the {code_keeper}.", f"Only the {code_keeper} holds the alarm code.")
    sentences = [hours_pair[0], booking[0], cancel[0], keys[0]]
    rng.shuffle(sentences)
    text = f"# {name}\n\n{intro}\n\n## {heading}\n\n" + _assemble(rng, sentences, tone, paragraphs=True)
    facts = [
        Fact(
            "Who maintains the page?",
            keeper,
            f"{keeper} maintains the page.",
            f"{_person(rng)} maintains the page.",
            (_person(rng), _person(rng), _person(rng)),
        ),
        Fact(
            f"When does the {kind} open on weekdays?",
            opens,
            f"The {kind} opens at {opens} on weekdays.",
            f"The {kind} opens at {_clock(rng, 10, 11)} on weekdays.",
            (_clock(rng, 10, 11), closes, saturday),
        ),
        Fact(
            "When does it close on Saturdays?",
            saturday,
            f"On Saturdays it closes at {saturday}.",
            f"On Saturdays it closes at {closes}.",
            (closes, opens, _clock(rng, 15, 16)),
        ),
        Fact(
            "How long is a first appointment?",
            f"{minutes} minutes",
            f"A first appointment lasts {minutes} minutes.",
            f"A first appointment lasts {minutes + 25} minutes.",
            (f"{minutes + 25} minutes", "2 hours", "5 minutes"),
        ),
        Fact(
            "How much is charged for a late cancellation?",
            fee,
            f"A late cancellation costs {fee}.",
            f"A late cancellation costs {_money(rng)}.",
            (_money(rng), _money(rng), _money(rng)),
        ),
        Fact(
            "Who keeps the alarm code?",
            f"the {code_keeper}",
            f"The {code_keeper} keeps the alarm code.",
            f"The {rng.choice([r for r in ROLES if r != code_keeper])} keeps the alarm code.",
            tuple(f"the {r}" for r in _other(rng, ROLES, code_keeper)),
        ),
    ]
    summary = rng.choice(
        [
            f"The {name} handbook covers opening hours, {minutes}-minute first bookings and a {fee} late-cancellation fee.",
            f"How the {name} runs: hours from {opens} to {closes}, bookings with any {staff}, and cancellation rules.",
        ]
    )
    return Passage(
        text,
        topic,
        sentiment,
        summary,
        facts,
        [hours_pair, booking, cancel, keys],
        f"The {kind} is moving to a new building next year.",
    )


DOMAINS = (office_memo, clinic_note, product_wiki, contract, review, incident_report, meeting_minutes, handbook_page)

# Every tenth prose paragraph is kept out of training, for the trainer's own progress checks.
MONITOR_EVERY = 10


@functools.lru_cache(maxsize=2)
def prose_pool(monitor: bool = False) -> tuple[str, ...]:
    """The prose paragraphs training uses (or, with ``monitor``, the ones it leaves out)."""
    paragraphs = toy_prose.prose_paragraphs()
    return tuple(p for i, p in enumerate(paragraphs) if (i % MONITOR_EVERY == 0) == monitor)


# Share of training prose passages with some of their words swapped (toy_prose.perturbed).
# The pool is small enough to learn by heart, and a model that knows a paragraph writes its
# questions from memory instead of from the passage; a changed paragraph cannot be recalled.
PROSE_PERTURB_SHARE = 0.0
# Share of a perturbed paragraph's longer words swapped.
PROSE_SWAP_SHARE = 0.25


def prose_passage(rng: random.Random, monitor: bool = False) -> Passage | None:
    """One or two real prose paragraphs, with facts made from spans of their sentences."""
    pool = prose_pool(monitor)
    text = "\n\n".join(rng.sample(pool, 1 if rng.random() < 0.75 else 2))
    if not monitor and PROSE_PERTURB_SHARE and rng.random() < PROSE_PERTURB_SHARE:
        text = toy_prose.perturbed(text, rng, share=PROSE_SWAP_SHARE, split=SPLIT_WORD_SHARE)
    return _prose_with_facts(rng, text, pool)


# Share of examples that are copy drills (0: the corpus is as it was without them): an
# extractive question on the opening sentences of a training paragraph with most of its
# longer words swapped for invented ones, most of those cut into several tokenizer pieces.
# Nothing in such a passage can be written from memory or guessed from the words around it,
# so the whole question and answer must be copied, the skill the toy's extractive answers
# lack ("Rivers" for "Riverside"); short, so that a CPU step holds many of them.
DRILL_SHARE = 0.0
DRILL_SWAP_SHARE = 0.6
DRILL_SPLIT_SHARE = 0.7


def drill_passage(rng: random.Random) -> Passage | None:
    """The passage of a copy drill (:data:`DRILL_SHARE`): one to three sentences of a training
    paragraph, most longer words swapped."""
    pool = prose_pool()
    sentences = toy_prose.sentences_of(rng.choice(pool))[: rng.randint(1, 3)]
    text = toy_prose.perturbed(" ".join(sentences), rng, share=DRILL_SWAP_SHARE, split=DRILL_SPLIT_SHARE)
    return _prose_with_facts(rng, text, pool)


def _prose_with_facts(rng: random.Random, text: str, pool: tuple[str, ...]) -> Passage | None:
    """A prose passage with facts made from spans of its sentences (None: no span to ask about)."""
    sentences = toy_prose.sentences_of(text)
    found = [(sentence, q) for sentence in sentences for q in toy_prose.span_questions(sentence)]
    if not found:
        return None
    rng.shuffle(found)
    found = found[:8]
    answers = list(dict.fromkeys(q.answer for _, q in found))
    others = [q.answer for s in toy_prose.sentences_of(rng.choice(pool)) for q in toy_prose.span_questions(s)]
    facts = []
    for sentence, q in found:
        pool_answers = [a for a in answers + others if a != q.answer]
        distractors = tuple(rng.sample(pool_answers, min(3, len(pool_answers))))
        false = toy_prose.negated(sentence)
        if distractors and (false is None or rng.random() < 0.5):
            false = q.blanked.replace("___", distractors[0], 1)
        facts.append(Fact(q.question, q.answer, sentence, false or "", distractors, q.blanked))
    summary = ""
    if len(sentences) >= 2 and len(sentences[0]) < 0.7 * len(text):
        summary = sentences[0]
    unrelated = rng.choice(toy_prose.sentences_of(rng.choice(pool)))
    return Passage(text, "technology", "", summary, facts, [], unrelated)


# Share of passages that are real prose rather than a template's.
PROSE_SHARE = 0.5


def make_passage(rng: random.Random) -> Passage:
    """One random passage: real prose, or one of the domains (sometimes two joined)."""
    if rng.random() < PROSE_SHARE:
        prose = prose_passage(rng)
        if prose is not None:
            return prose
    passage = rng.choice(DOMAINS)(rng)
    if rng.random() < 0.2:
        # Longer passages, closer to the 384-token chunks the pipeline cuts documents into.
        second = rng.choice(DOMAINS)(rng)
        passage.text = passage.text + "\n\n" + second.text
        passage.facts = passage.facts + second.facts
        passage.paraphrases = passage.paraphrases + second.paraphrases
    return passage


# --- tasks: each returns (input, output) given a passage and a "ref" for the passage ---
# ``ref`` is how the input refers to the passage: the placeholder, the passage itself, or "".
# A builder returns None when the passage has nothing to build its task from.


def _with_context(rng: random.Random, ref: str, body: str, before: bool | None = None) -> str:
    if not ref:
        return body
    if before is None:
        before = rng.random() < 0.7
    return f"{ref}\n\n{body}" if before else f"{body}\n\n{ref}"


# Share of extractive questions on a templated passage made from one of its sentences
# rather than from the facts its template knows.
SENTENCE_FACT_SHARE = 0.8
# Share of those made from the passage's first sentence.
FIRST_SENTENCE_SHARE = 0.9
# Share of first-sentence questions, where the sentence allows, whose answer opens it.
OPENING_ANSWER_SHARE = 0.9

EXTRACTIVE_TEMPLATES = (
    "Q: {q}\nA:",
    "Question: {q}\nAnswer:",
    "Answer the question using a span from the text above.\n{q}",
    "Extract the answer to the following question from the passage: {q}",
    "{q}",
    "Read the passage and answer with words taken from it. {q}",
    "Find the answer in the text.\nQuestion: {q}",
    "{q} Answer with a phrase from the passage.",
    "According to the passage, {lq}",
    "Use the passage to answer this question: {q}",
    "I have a question about this text: {q}",
    "Given the article, {lq} Copy the answer from the article.",
)
BLANK_TEMPLATES = (
    "Fill in the blank with words from the passage: {b}",
    "Complete the sentence with a phrase from the text.\n{b}",
    "Which words from the passage fill the gap? {b}",
)


def _sentence_fact(rng, p: Passage) -> Fact | None:
    """A fact made from one sentence of the passage: its question repeats the words around
    the answer, the cue that lets a model find the answer in an unseen passage and copy it.

    Most are about the passage's first sentence (:data:`FIRST_SENTENCE_SHARE`): a model of a
    few million parameters learns to copy from where the passage starts long before it
    learns to find a span anywhere in it.
    """
    sentences = toy_prose.sentences_of(p.text)
    if sentences and rng.random() < FIRST_SENTENCE_SHARE:
        sentences = sentences[:1]
    found = [(s, q) for s in sentences for q in toy_prose.span_questions(s)]
    if not found:
        return None
    opening = [(s, q) for s, q in found if s == sentences[0] and s.startswith(q.answer)]
    if len(sentences) == 1 and opening and rng.random() < OPENING_ANSWER_SHARE:
        found = opening
    sentence, q = rng.choice(found)
    return Fact(q.question, q.answer, sentence, "", (), q.blanked)


def task_extractive_qa(rng, p: Passage, ref: str) -> tuple[str, str]:
    f = (rng.random() < SENTENCE_FACT_SHARE and _sentence_fact(rng, p)) or rng.choice(p.facts)
    if f.blanked and rng.random() < 0.25:
        body = rng.choice(BLANK_TEMPLATES).format(b=f.blanked)
        return _with_context(rng, ref, body), f.answer
    if ref and rng.random() < 0.2:
        body = f"Read the text and answer the question.\n\nText: {ref}\n\nQuestion: {f.question}"
        return body, f.answer
    body = rng.choice(EXTRACTIVE_TEMPLATES).format(q=f.question, lq=toy_prose.lower_first(f.question))
    return _with_context(rng, ref, body), f.answer


def task_open_qa(rng, p: Passage, ref: str) -> tuple[str, str]:
    f = rng.choice(p.facts)
    body = rng.choice(
        [
            f"{f.question}",
            f"Answer this question: {f.question}",
            f"Q: {f.question}\nA:",
            f"Please answer the following question. {f.question}",
            f"{f.question} Give a short answer.",
            f"Question: {f.question}",
        ]
    )
    answer = f.answer if rng.random() < 0.6 else f.statement
    return _with_context(rng, ref, body), answer


def _option_listing(rng, options: list[str]) -> tuple[str, list[str]]:
    """The options in one of the layouts Bonito writes, and how each may be answered."""
    layout = rng.random()
    if layout < 0.5:
        labels = "ABCD"
        style = rng.choice(["{l}. {o}", "({l}) {o}", "{l}) {o}"])
        listing = "\n".join(style.format(l=labels[i], o=o) for i, o in enumerate(options))
        return listing, list(labels[: len(options)])
    if layout < 0.65:
        listing = "\n".join(f"{i + 1}. {o}" for i, o in enumerate(options))
        return listing, [str(i + 1) for i in range(len(options))]
    if layout < 0.9 or any(c in o for o in options for c in ",;|"):
        return "\n".join(f"- {o}" for o in options), []
    return "Options: " + ", ".join(options), []


def task_multiple_choice_qa(rng, p: Passage, ref: str) -> tuple[str, str] | None:
    f = rng.choice(p.facts)
    if len(f.distractors) < 2:
        return None
    options = [f.answer, *f.distractors[:3]]
    rng.shuffle(options)
    listing, labels = _option_listing(rng, options)
    question = rng.choice(
        [
            f"{f.question}\n\nOptions:\n{listing}\n\nAnswer:",
            f"Question: {f.question}\nChoose the correct answer:\n{listing}",
            f"{f.question}\nPick the right option.\n{listing}",
            f"Answer the question based on the passage.\n{f.question}\n{listing}",
            f'Which of the following answers the question "{f.question}"?\n{listing}',
        ]
    )
    index = options.index(f.answer)
    # Mostly the label alone, as many of Bonito's multiple-choice templates answer: writing a
    # label it just listed is the copy a small model learns first.
    if labels and rng.random() < 0.75:
        answer = labels[index] if rng.random() < 0.75 else f"{labels[index]}. {f.answer}"
    else:
        answer = f.answer
    return _with_context(rng, ref, question), answer


def task_question_generation(rng, p: Passage, ref: str) -> tuple[str, str]:
    f = rng.choice(p.facts)
    body = rng.choice(
        [
            f'Write a question about the passage whose answer is "{f.answer}".',
            f"Generate a question that can be answered with: {f.answer}",
            "Generate a question about the text above.",
            "What question would you ask to test someone's understanding of this passage?",
            f"Answer: {f.answer}\nWhat is the question?",
            "Write a question that this passage answers.",
            f'Ask a question about the text; the answer should be "{f.answer}".',
        ]
    )
    return _with_context(rng, ref, body), f.question


def task_yes_no_qa(rng, p: Passage, ref: str) -> tuple[str, str] | None:
    f = rng.choice(p.facts)
    true = rng.random() < 0.5 or not f.false_statement
    statement = f.statement if true else f.false_statement
    body = rng.choice(
        [
            f'Based on the text, is the following statement correct? "{statement}" Answer yes or no.',
            f"Is it true that {toy_prose.lower_first(statement).rstrip('.')}?",
            f"True or false: {statement}",
            f"Question: {statement.rstrip('.')}, yes or no?",
            f"Does the passage say that {toy_prose.lower_first(statement).rstrip('.')}?",
            f"Read the text and answer yes or no. {statement}",
            f"Statement: {statement}\nIs this statement supported by the text?",
        ]
    )
    if body.startswith("True or false"):
        answer = "True" if true else "False"
    else:
        answer = "Yes" if true else "No"
    return _with_context(rng, ref, body), answer


def task_paraphrase_generation(rng, p: Passage, ref: str) -> tuple[str, str] | None:
    if not p.paraphrases:
        return None
    a, b = rng.choice(p.paraphrases)
    if rng.random() < 0.5:
        a, b = b, a
    body = rng.choice(
        [
            f"Paraphrase the following sentence: {a}",
            f"Rewrite this sentence in different words:\n{a}",
            f"Sentence: {a}\nParaphrase:",
            f'Say the same thing in another way: "{a}"',
            f"Reword the sentence below without changing its meaning.\n{a}",
        ]
    )
    # The passage is often not referenced at all: the sentence is the input.
    return (body if rng.random() < 0.6 else _with_context(rng, ref, body)), b


def task_paraphrase_identification(rng, p: Passage, ref: str) -> tuple[str, str] | None:
    sentences = toy_prose.sentences_of(p.text)
    if p.paraphrases and rng.random() < 0.6:
        a, b = rng.choice(p.paraphrases)
        same = True
        if rng.random() < 0.5:
            b = rng.choice([x for pair in p.paraphrases for x in pair if x not in (a, b)] or [b])
            same = b in (a,) or (a, b) in p.paraphrases
    elif len(sentences) >= 2:
        a, b = rng.sample(sentences, 2)
        same = False
    else:
        return None
    style = rng.random()
    if style < 0.35:
        body = f"Sentence 1: {a}\nSentence 2: {b}\nDo these two sentences mean the same thing? Answer yes or no."
        answer = "Yes" if same else "No"
    elif style < 0.7:
        body = f'Is "{a}" a paraphrase of "{b}"?'
        answer = "yes" if same else "no"
    else:
        body = f"{a}\n{b}\nAre these two sentences paraphrases or not paraphrases?"
        answer = "paraphrases" if same else "not paraphrases"
    return (body if rng.random() < 0.5 else _with_context(rng, ref, body)), answer


def task_sentiment(rng, p: Passage, ref: str) -> tuple[str, str] | None:
    if not p.sentiment:
        return None
    labels = rng.choice([("positive", "negative"), ("Positive", "Negative"), ("good", "bad")])
    answer = labels[0] if p.sentiment == "positive" else labels[1]
    body = rng.choice(
        [
            f"Is the sentiment of this text {labels[0]} or {labels[1]}?",
            f"What is the sentiment of the passage? Options: {labels[0]}, {labels[1]}",
            f"How does the writer feel? Answer {labels[0]} or {labels[1]}.",
            f"Is this review {labels[0]} or {labels[1]}?",
            f"Did the author have a {labels[0]} or {labels[1]} experience?",
        ]
    )
    return _with_context(rng, ref, body), answer


def task_summarization(rng, p: Passage, ref: str) -> tuple[str, str] | None:
    if not p.summary:
        return None
    body = rng.choice(
        [
            "Summarize the text above in one sentence.",
            "Write a short summary of this text.",
            "TL;DR:",
            "What is the main point of this passage?",
            "Summary:",
            "Give a one-sentence summary of the following text.",
            "Briefly, what is this text about?",
        ]
    )
    return _with_context(rng, ref, body, before=True if ref else None), p.summary


def task_topic_classification(rng, p: Passage, ref: str) -> tuple[str, str]:
    options = [p.topic, *rng.sample([t for t in TOPICS if t != p.topic], 3)]
    rng.shuffle(options)
    body = rng.choice(
        [
            f"What is the topic of this text? Options: {', '.join(options)}.",
            "Which category does this passage belong to?\n" + "\n".join(f"- {o}" for o in options),
            f"Classify the text into one of these topics: {'; '.join(options)}.",
            f"Is this text about {', '.join(options[:-1])} or {options[-1]}?",
        ]
    )
    return _with_context(rng, ref, body), p.topic


def _hypothesis(rng, p: Passage) -> tuple[str, str]:
    r = rng.random()
    f = rng.choice(p.facts)
    if r < 0.4 or (r < 0.75 and not f.false_statement) or not p.unrelated:
        return f.statement, "entailment"
    if r < 0.75:
        return f.false_statement, "contradiction"
    return p.unrelated, "neutral"


def task_natural_language_inference(rng, p: Passage, ref: str) -> tuple[str, str]:
    hypothesis, label = _hypothesis(rng, p)
    ref = ref or CONTEXT_PLACEHOLDER
    style = rng.random()
    if style < 0.35:
        words = {"entailment": "Yes", "contradiction": "No", "neutral": "It's impossible to say"}
        text = (
            f'{ref}\n\nBased on the paragraph above can we conclude that "{hypothesis}"?\n\n'
            "OPTIONS:\n- Yes\n- It's impossible to say\n- No"
        )
        return text, words[label]
    if style < 0.7:
        words = {"entailment": "yes", "contradiction": "no", "neutral": "it is not possible to tell"}
        text = (
            f"Premise: {ref}\nHypothesis: {hypothesis}\nDoes the premise entail the hypothesis?\n"
            "Options: yes, it is not possible to tell, no"
        )
        return text, words[label]
    words = {"entailment": "entailment", "contradiction": "contradiction", "neutral": "neutral"}
    text = f"{ref}\n\nHypothesis: {hypothesis}\nIs this entailment, contradiction, or neutral?"
    return text, words[label]


def task_textual_entailment(rng, p: Passage, ref: str) -> tuple[str, str]:
    hypothesis, label = _hypothesis(rng, p)
    ref = ref or CONTEXT_PLACEHOLDER
    entailed = label == "entailment"
    style = rng.random()
    if style < 0.4:
        text = f'{ref}\n\nDoes this text entail that "{hypothesis}"? Answer yes or no.'
        return text, "yes" if entailed else "no"
    if style < 0.7:
        text = f'{ref}\n\nIf the text above is true, is it also true that "{hypothesis}"?'
        return text, "Yes" if entailed else "No"
    text = f"Text: {ref}\nStatement: {hypothesis}\nEntailment or not entailment?"
    return text, "entailment" if entailed else "not entailment"


_PRONOUN_SUBJECT = re.compile(
    r"^((?:The |A |An |Dr\. )?[A-Z][\w'-]*(?: [\w'-]+){0,3}?) "
    r"(is|are|was|were|has|have|will|shall|must|can|should|may) (.+)$"
)


def task_coreference(rng, p: Passage, ref: str) -> tuple[str, str] | None:
    candidates = [m for s in toy_prose.sentences_of(p.text) if (m := _PRONOUN_SUBJECT.match(s))]
    if not candidates:
        return None
    match = rng.choice(candidates)
    subject, verb, rest = match.groups()
    pronoun = "They" if verb in ("are", "were", "have") else rng.choice(["It", "This", "He", "She"])
    sentence = f"{pronoun} {verb} {rest}"
    body = rng.choice(
        [
            f'In the sentence "{sentence}", who or what does "{pronoun}" refer to?',
            f'{sentence}\n\nWhat does the pronoun "{pronoun}" stand for, according to the passage?',
            f'Resolve the reference: in "{sentence}", "{pronoun}" means what?',
            f'Who or what is "{pronoun}" in the following sentence? {sentence}',
        ]
    )
    return _with_context(rng, ref or CONTEXT_PLACEHOLDER, body), subject


def task_sentence_completion(rng, p: Passage, ref: str) -> tuple[str, str] | None:
    sentences = [s for s in toy_prose.sentences_of(p.text) if 8 <= len(s.split()) <= 45]
    if not sentences:
        return None
    words = rng.choice(sentences).split()
    cut = rng.randint(len(words) // 3, 2 * len(words) // 3)
    start, end = " ".join(words[:cut]), " ".join(words[cut:])
    body = rng.choice(
        [
            f"Complete the sentence: {start}",
            f'How does this sentence end? "{start} ..."',
            f"Finish the following sentence based on the passage.\n{start}",
            f"{start} ...\n\nWhat comes next?",
            f"Continue: {start}",
        ]
    )
    return _with_context(rng, ref, body), end


def task_text_generation(rng, p: Passage, ref: str) -> tuple[str, str] | None:
    sentences = toy_prose.sentences_of(p.text)
    if len(sentences) < 2:
        return None
    i = rng.randrange(len(sentences) - 1)
    f = rng.choice(p.facts)
    style = rng.random()
    if style < 0.4:
        body = rng.choice(
            [
                f"Write the next sentence after this one: {sentences[i]}",
                f"Continue the text.\n{sentences[i]}",
                f'What could come after "{sentences[i]}"? Write one sentence.',
            ]
        )
        return (body if rng.random() < 0.6 else _with_context(rng, ref, body)), sentences[i + 1]
    body = rng.choice(
        [
            f'Write a sentence that mentions "{f.answer}".',
            f"Generate a sentence about {f.answer}.",
            f'Use "{f.answer}" in a sentence related to the passage.',
            f'Write one sentence that contains the words "{f.answer}".',
        ]
    )
    return _with_context(rng, ref, body), f.statement


def task_word_sense_disambiguation(rng, p: Passage, ref: str) -> tuple[str, str] | None:
    sentences = toy_prose.sentences_of(p.text)
    words = [(w, s) for s in sentences for w in re.findall(r"\b[a-z]{5,}\b", s)]
    if not words:
        return None
    word, first = rng.choice(words)
    other = [s for s in sentences if s != first and re.search(rf"\b{word}\b", s)]
    same = bool(other) and rng.random() < 0.6
    if same:
        second = rng.choice(other)
    else:
        # A sentence from elsewhere that uses the word: a different context, most often another sense.
        pool = [
            s
            for para in rng.sample(prose_pool(), 40)
            for s in toy_prose.sentences_of(para)
            if re.search(rf"\b{word}\b", s)
        ]
        if not pool:
            return None
        second = rng.choice(pool)
    style = rng.random()
    if style < 0.5:
        body = (
            f'Does the word "{word}" mean the same thing in these two sentences?\n'
            f"1. {first}\n2. {second}\nAnswer yes or no."
        )
        answer = "Yes" if same else "No"
    else:
        body = (
            f"Sentence A: {first}\nSentence B: {second}\n"
            f'Is "{word}" used in the same sense in both sentences? Answer same or different.'
        )
        answer = "same" if same else "different"
    return (body if rng.random() < 0.6 else _with_context(rng, ref, body)), answer


TASK_BUILDERS = {
    "extractive question answering": task_extractive_qa,
    "question answering without choices": task_open_qa,
    "multiple-choice question answering": task_multiple_choice_qa,
    "question generation": task_question_generation,
    "yes-no question answering": task_yes_no_qa,
    "coreference resolution": task_coreference,
    "paraphrase generation": task_paraphrase_generation,
    "paraphrase identification": task_paraphrase_identification,
    "sentence completion": task_sentence_completion,
    "sentiment": task_sentiment,
    "summarization": task_summarization,
    "text generation": task_text_generation,
    "topic classification": task_topic_classification,
    "word sense disambiguation": task_word_sense_disambiguation,
    "natural language inference": task_natural_language_inference,
    "textual entailment": task_textual_entailment,
}
# How often each task type is drawn, relative to the others: copying an answer span out of
# an unseen passage is the hardest thing the toy learns, listing options the next.
TASK_WEIGHTS = {
    "extractive question answering": 6.0,
    "multiple-choice question answering": 3.0,
    "yes-no question answering": 2.0,
}
# Every key must be a real upstream full name; resolve_task_type raises on a typo.
TRAINED_TASK_TYPES = tuple(resolve_task_type(name).full_name for name in TASK_BUILDERS)

# How tasks refer to the passage: the placeholder, as Bonito's outputs mostly do, or a
# short passage quoted whole. A quoted passage is dense copying practice (every token of it
# is in the prompt), the skill an extractive answer or a multiple-choice answer needs.
PLACEHOLDER_SHARE = 0.4
LITERAL_SHARE = 0.45
# A literal copy of the passage would not fit the 256 new tokens generation allows.
LITERAL_MAX_CHARS = 600


@dataclass(frozen=True)
class Example:
    task_type: str
    context: str
    prompt: str
    task_input: str
    task_output: str

    @property
    def completion(self) -> str:
        """What the model learns to write after the prompt (end-of-sequence not included).

        A space follows the pipe (the parser strips it): the answer's first word then
        tokenises as it does inside the passage, which is what lets the model copy it.
        """
        return self.task_input + PIPE + " " + self.task_output

    @property
    def text(self) -> str:
        return self.prompt + self.completion


def make_example(rng: random.Random, task_type: str | None = None, passage: Passage | None = None) -> Example:
    """One training example: a fresh passage (unless given) and one task of ``task_type``.

    When the passage has nothing to build the task from (no tone to classify, no sentence
    pair to paraphrase), a fresh templated passage is drawn instead.
    """
    if DRILL_SHARE and task_type is None and passage is None and rng.random() < DRILL_SHARE:
        drill = drill_passage(rng)
        if drill is not None:
            task_type, passage = "extractive question answering", drill
    task_type = task_type or rng.choices(TRAINED_TASK_TYPES, [TASK_WEIGHTS.get(t, 1.0) for t in TRAINED_TASK_TYPES])[0]
    passage = passage or make_passage(rng)
    while True:
        r = rng.random()
        if r < PLACEHOLDER_SHARE or (r < PLACEHOLDER_SHARE + LITERAL_SHARE and len(passage.text) > LITERAL_MAX_CHARS):
            ref = CONTEXT_PLACEHOLDER
        elif r < PLACEHOLDER_SHARE + LITERAL_SHARE:
            ref = passage.text
        else:
            ref = ""
        built = TASK_BUILDERS[task_type](rng, passage, ref)
        if built is not None:
            break
        passage = rng.choice(DOMAINS)(rng)
    task_input, task_output = built
    return Example(task_type, passage.text, build_prompt(task_type, passage.text), task_input, task_output)


def make_examples(count: int, seed: int) -> list[Example]:
    """``count`` examples, the same for the same seed."""
    rng = random.Random(seed)
    return [make_example(rng) for _ in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for example in make_examples(args.count, args.seed):
        print(example.text)
        print("=" * 72)


if __name__ == "__main__":
    main()
