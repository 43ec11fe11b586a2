"""The payer of a remittance by name: an appeal argues the rule of the payer that denied."""

from __future__ import annotations

from integration.priorauth.references import load_pa_references


def test_an_835_payer_name_finds_its_payer_in_the_library() -> None:
    library = load_pa_references().library
    choice = library.payer_named("UNITEDHEALTHCARE SANDBOX", "835 file 1")
    assert choice.match is not None
    assert (choice.match.id, choice.match.coverage) == ("unitedhealthcare", "835 file 1")
    assert library.payer_named("unitedhealthcare").match is not None  # a PA item's payer id


def test_an_unknown_payer_name_says_so_and_picks_none() -> None:
    choice = load_pa_references().library.payer_named("ACME HEALTH PLAN OF NOWHERE")
    assert choice.match is None
    assert choice.reason == "payer 'ACME HEALTH PLAN OF NOWHERE' is not in the payer library"
