"""Property tests for phrase matching: found anywhere as whole words, never inside words, negation scoped to a clause."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from integration.mapping.text import PhraseMatcher, normalize

words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8).filter(
    lambda w: w not in {"no", "not", "without", "denies", "never"}
)
sentences = st.lists(words, max_size=8).map(" ".join)
separators = st.sampled_from([" ", ", ", "; ", " | ", "\n", ". ", " - ", " (", ") "])


@given(before=sentences, after=sentences, sep1=separators, sep2=separators)
def test_phrase_is_found_whatever_surrounds_it(
    before: str, after: str, sep1: str, sep2: str
) -> None:
    matcher = PhraseMatcher(["inadequate response"])
    assert (
        matcher.find(f"{before}{sep1}Inadequate   RESPONSE{sep2}{after}", skip_negated=True)
        == "inadequate response"
    )


@given(prefix=words, suffix=words)
def test_phrase_is_not_found_inside_a_word(prefix: str, suffix: str) -> None:
    assert PhraseMatcher(["failed"]).find(f"{prefix}failed{suffix}") is None


@given(
    neg=st.sampled_from(["no", "not", "without"]),
    filler=st.lists(words, max_size=2).map(" ".join),
    later=sentences,
)
def test_negation_counts_only_within_three_words_of_the_same_clause(
    neg: str, filler: str, later: str
) -> None:
    matcher = PhraseMatcher(["improvement"])
    assert matcher.find(f"{neg} {filler} improvement", skip_negated=True) is None
    assert matcher.find(f"{neg} {filler}; improvement {later}", skip_negated=True) == "improvement"


@given(st.text())
def test_normalize_is_idempotent_and_lowercase(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert once == once.lower().strip()
