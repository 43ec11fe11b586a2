"""The faster readers (issue 3) read what the straightforward code they replaced read, on large
generated files: the Segment fast path builds the same segments, `ccyymmdd` accepts exactly what
`datetime.strptime(raw, "%Y%m%d")` accepts, `read_835` (now parsed as the segments arrive) gives
the models and problems of reading each `Transaction` whole (its former path), the 835 balancing
gives the sums of `flatten`, and a 600-claim 837P is read without problems, written back byte
for byte, and a copy with seeded defects gives the expected located errors.

Files are generated from tests/unit/denials/era_scenarios.py and tests/unit/x12/scenarios_837p.py
(synthetic people and amounts)."""

from __future__ import annotations

import dataclasses
import gc
from datetime import date, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from integration.x12.delimiters import read_delimiters
from integration.x12.envelope import read_transactions
from integration.x12.errors import Problem, X12Error
from integration.x12.segments import Segment, ccyymmdd, iter_segments, iter_segments_from
from integration.x12.t835_005010x221a1 import (
    ClaimPayment,
    Remittance835,
    flatten,
    read_835,
    read_transaction,
    write_835,
)
from integration.x12.t837_005010x222a1 import (
    Claim837Transaction,
    read_837p,
    render_837p,
    write_837p,
)
from tests.unit.denials.era_scenarios import (
    CORRECTED_CLAIM,
    DENIED_CLAIM,
    PAID_CLAIM,
    PAYER_PARAMS,
    clock,
    control_numbers,
    remittance,
)
from tests.unit.x12 import scenarios_837p as s837

# -- dates ----------------------------------------------------------------------------------------


def _strptime(raw: str) -> date | None:
    """The former date parse of the 835 and 837P readers."""
    try:
        if len(raw) != 8 or not raw.isdigit():
            raise ValueError(raw)
        return datetime.strptime(raw, "%Y%m%d").date()
    except ValueError:
        return None


def test_dates_as_strptime_on_every_month_and_day_field() -> None:
    for year in ("0000", "0001", "1900", "2000", "2024", "2026", "9999"):
        for month in range(100):
            for day in range(100):
                raw = f"{year}{month:02d}{day:02d}"
                assert ccyymmdd(raw) == _strptime(raw), raw


@given(
    st.text(alphabet="0123456789 +-._:\u0663\u00b2", min_size=0, max_size=10)
    | st.dates().map(lambda d: d.strftime("%Y%m%d"))
)
def test_dates_as_strptime(raw: str) -> None:
    assert ccyymmdd(raw) == _strptime(raw)


# -- segments -------------------------------------------------------------------------------------


def _reference_segments(text: str) -> list[Segment]:
    """The former tokenizer: `Segment(...)` through its dataclass __init__."""
    d = read_delimiters(text)
    out: list[Segment] = []
    for chunk in text.lstrip("\ufeff \t\r\n").split(d.segment):
        raw = chunk.strip(" \t\r\n")
        if raw:
            parts = raw.split(d.element)
            out.append(Segment(parts[0], tuple(parts[1:]), len(out), d))
    return out


def big_835(claims: int = 3000) -> Remittance835:
    kinds = (PAID_CLAIM, DENIED_CLAIM, CORRECTED_CLAIM)
    return remittance(
        claims=tuple(
            dataclasses.replace(kinds[i % 3], patient_control_number=f"PCN-{i:06d}")
            for i in range(claims)
        )
    )


def test_segments_are_the_segments_of_the_dataclass() -> None:
    text = write_835(big_835(500), PAYER_PARAMS, clock, control_numbers(), segment_suffix="\r\n")
    expected = _reference_segments(text)
    got = list(iter_segments(text, read_delimiters(text)))
    assert got == expected
    assert [hash(s) for s in got] == [hash(s) for s in expected]
    assert [repr(s) for s in got] == [repr(s) for s in expected]
    pieces = [text[i : i + 97] for i in range(0, len(text), 97)]
    assert list(iter_segments_from(pieces, read_delimiters(text))) == expected


# -- 835 --------------------------------------------------------------------------------------


def _former_read_835(text: str) -> tuple[list[Remittance835], list[Problem]]:
    """`read_835` as it was: each transaction set read whole, its envelope problems first."""
    problems: list[Problem] = []
    models: list[Remittance835] = []
    try:
        for txn in read_transactions(text, problems):
            model, txn_problems = read_transaction(txn)
            problems.extend(txn_problems)
            if model is not None:
                models.append(model)
    except X12Error as exc:
        problems.extend(exc.problems)
    return models, problems


def _seeded_835() -> str:
    """Two interchanges: a large valid 835, then one with a bad date, an unbalanced line, a bad
    CAS amount, an unknown segment, a wrong SE01 and no IEA; plus a stray segment between."""
    good = write_835(big_835(), PAYER_PARAMS, clock, control_numbers(), segment_suffix="\n")
    bad = write_835(big_835(900), PAYER_PARAMS, clock, control_numbers(900), segment_suffix="\n")
    lines = bad.split("\n")
    dtm = [i for i, s in enumerate(lines) if s.startswith("DTM*472*")]
    lines[dtm[10]] = "DTM*472*20260230~"
    svc = [i for i, s in enumerate(lines) if s.startswith("SVC*")]
    lines[svc[20]] = lines[svc[20]].replace("*80.00", "*81.00", 1)
    cas = [i for i, s in enumerate(lines) if s.startswith("CAS*CO*45*")]
    lines[cas[30]] = "CAS*CO*45*4O.00~"
    lines.insert(svc[40], "ZZZ*1~")
    se = next(i for i, s in enumerate(lines) if s.startswith("SE*"))
    lines[se] = "SE*7*" + lines[se].split("*", 2)[2]
    lines = [s for s in lines if not s.startswith("IEA*")]
    return good + "GE*1*9~\n" + "\n".join(lines)


def test_read_835_reads_as_the_transactions_read_whole() -> None:
    text = _seeded_835()
    models, problems = read_835(text)
    expected_models, expected_problems = _former_read_835(text)
    assert models == expected_models
    assert [m.envelope for m in models] == [m.envelope for m in expected_models]
    assert problems == expected_problems
    rendered = [p.render() for p in problems]
    assert sum(len(m.claims) for m in models) == 3900
    assert any("DTM02" in r and "'20260230'" in r for r in rendered)
    assert any("CAS03" in r and "'4O.00'" in r for r in rendered)
    assert any("SE01" in r for r in rendered)


def _balanced(claim: ClaimPayment) -> bool:
    return claim.charge - sum((a.amount for a in claim.all_adjustments), Decimal(0)) == claim.paid


def test_balancing_sums_as_flatten() -> None:
    text = _seeded_835()
    models, problems = read_835(text)
    clp04 = {p.segment_index for p in problems if p.element == "CLP04"}
    svc03 = {p.segment_index for p in problems if p.element == "SVC03"}
    unbalanced_lines = sum(
        1
        for m in models
        for c in m.claims
        for s in c.services
        if s.charge - sum((a.amount for a in flatten(s.cas)), Decimal(0)) != s.paid
    )
    assert unbalanced_lines == len(svc03) == 2  # the changed SVC03, the unreadable CAS amount
    assert sum(1 for m in models for c in m.claims if not _balanced(c)) == len(clp04) == 1


# -- 837P -------------------------------------------------------------------------------------


def big_837p(count: int = 600, per_subscriber: int = 5) -> Claim837Transaction:
    kinds = (s837.BIOPSY, s837.MOHS, s837.BIOLOGIC)
    claims = [
        dataclasses.replace(kinds[i % 3], patient_control_number=f"DRCM-EQ-{i:06d}")
        for i in range(count)
    ]
    one = s837.transaction(*claims[:1])
    provider = one.billing_providers[0]
    template = provider.subscribers[0]
    subscribers = tuple(
        dataclasses.replace(
            template,
            subscriber=dataclasses.replace(template.subscriber, id=f"SBX{j:09d}"),
            claims=tuple(claims[j * per_subscriber : (j + 1) * per_subscriber]),
        )
        for j in range(count // per_subscriber)
    )
    return dataclasses.replace(
        one, billing_providers=(dataclasses.replace(provider, subscribers=subscribers),)
    )


def _write(model: Claim837Transaction) -> str:
    return write_837p(model, s837.CLINIC_PARAMS, s837.clock, s837.control_numbers())


def test_837p_large_file_reads_clean_and_writes_back_byte_for_byte() -> None:
    model = big_837p()
    text = _write(model)
    models, problems = read_837p(text)
    assert problems == []
    (read,) = models
    assert render_837p(read, read.envelope) == text  # type: ignore[arg-type]
    got = [c for b in read.billing_providers for s in b.subscribers for c in s.claims]
    want = [c for b in model.billing_providers for s in b.subscribers for c in s.claims]
    assert [c.patient_control_number for c in got] == [c.patient_control_number for c in want]
    assert [c.services for c in got] == [c.services for c in want]
    assert _write(read) == text


def test_837p_seeded_defects_give_the_located_errors() -> None:
    segments = _write(big_837p()).split("~")
    starts = [i for i, s in enumerate(segments) if s.startswith("CLM*")]

    def first(claim: int, prefix: str) -> int:
        return next(
            i for i in range(starts[claim], len(segments)) if segments[i].startswith(prefix)
        )

    date_at = first(100, "DTP*472*D8*")
    segments[date_at] = "DTP*472*D8*20260231"
    nm1_at = first(300, "NM1*82*")
    segments[nm1_at] = segments[nm1_at].replace("NM1*82*1*", "NM1*82**", 1)
    hi_at = first(500, "HI*")
    del segments[hi_at]
    se = next(i for i, s in enumerate(segments) if s.startswith("SE*"))
    count = int(segments[se].split("*")[1]) - 1
    segments[se] = f"SE*{count}*" + segments[se].split("*", 2)[2]
    _models, problems = read_837p("~".join(segments))
    svs = [i for i in range(hi_at, hi_at + 12) if segments[i].startswith("SV1*")][:3]
    assert [p.render() for p in problems] == [
        f"2400 DTP03 (segment {date_at}): expected a date CCYYMMDD, got '20260231'",
        f"2310B NM102 (segment {nm1_at}): expected 1 or 2, got ''",
        f"2300 CLM (segment {starts[500]}): expected HI (diagnoses), got none",
        *(
            f"2400 SV107-1 (segment {i}): expected a pointer to one of the claim's 0 diagnoses, "
            f"got '1'"
            for i in svs
        ),
    ]


# -- the collector ----------------------------------------------------------------------------


def test_readers_leave_the_collector_as_they_found_it() -> None:
    text = write_835(big_835(30), PAYER_PARAMS, clock, control_numbers())
    assert gc.isenabled()
    read_835(text)
    read_837p(_write(big_837p(30)))
    assert gc.isenabled()
    gc.disable()
    try:
        read_835(text)
        assert not gc.isenabled()
        read_835("not X12")  # an unreadable ISA: the error path leaves it alone too
        assert not gc.isenabled()
    finally:
        gc.enable()
