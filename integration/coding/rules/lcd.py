"""LCD diagnosis-procedure pairing: a procedure an LCD governs needs a diagnosis the LCD covers.

Each policy is a file of kind `coding-lcd` (mappings/coding/lcd-benign-lesions.yaml for the
benign skin lesion LCDs and articles A57044 / A57162, lcd-mohs.yaml for the Mohs LCDs).

Where the diagnoses come from, for each line:

1. The billing articles of the policy (its `documents` whose id starts with "A", and those the
   imported article_related_documents.csv relates to one of its LCDs) imported with
   `dermrcm refdata import-lcd` from CMS's Medicare Coverage Database download (reference
   "lcd-articles"): for each such article, the newest imported version in force on the line's
   date of service. A line is supported when one of its diagnoses is on one of those covered
   lists (exact ICD-10-CM code); a finding names the article, version and import date, and the
   diagnoses the article lists as not covered.
2. Otherwise (no article of the policy imported, or none in force on the date) the yaml groups,
   which were written from knowledge of the ICD-10-CM families and are marked unverified in the
   data: every such finding says so.

The policy's `not_applicable` groups (malignant diagnoses, which other rules decide) apply to
both. Medicare gets an error, other payers a warning (data); the fix is always left to the coder
(a different diagnosis, documentation, or an ABN).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from integration.coding.engine import Family, LoadContext
from integration.coding.icd10cm import normalise, with_dot
from integration.coding.lcd_import import ArticleList, LcdArticleTable
from integration.coding.model import Payer, RuleSource, Severity, WorkClaim, WorkLine
from integration.coding.rules.global_period import code_set

POLICY_FILES: tuple[str, ...] = ("lcd-benign-lesions.yaml", "lcd-mohs.yaml")


def payer_matches(selector: Mapping[str, Any], payer: Payer) -> bool:
    """A payer selector of the coding mappings: `default: true`, or the payer's claim filing
    indicator (SBR09) or payer id in the listed ones."""
    if selector.get("default"):
        return True
    if payer.claim_filing and payer.claim_filing in selector.get("claim_filing", ()):
        return True
    return bool(payer.id) and payer.id in selector.get("payer_ids", ())


def dx_in(code: str, prefix: str) -> bool:
    """Whether the ICD-10-CM `code` falls under `prefix` ("L82.1" under "L82"); dots ignored."""
    return normalise(code).startswith(normalise(prefix))


@dataclass(frozen=True, slots=True)
class DxGroup:
    prefix: str
    label: str

    def holds(self, code: str) -> bool:
        return dx_in(code, self.prefix)


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    documents: tuple[str, ...]
    procedures: frozenset[str]
    covered: tuple[DxGroup, ...]
    excluded: tuple[DxGroup, ...]
    not_applicable: tuple[DxGroup, ...]
    unverified: bool
    unverified_note: str
    severity: tuple[tuple[Mapping[str, Any], Severity], ...]
    source: RuleSource

    @property
    def articles(self) -> tuple[str, ...]:
        """The billing articles among the policy's documents ("A57044")."""
        return tuple(d for d in self.documents if d.startswith("A"))

    def severity_for(self, payer: Payer) -> Severity:
        for selector, severity in self.severity:
            if payer_matches(selector, payer):
                return severity
        return "warning"


def _groups(raw: list[dict[str, Any]] | None) -> tuple[DxGroup, ...]:
    return tuple(DxGroup(g["prefix"], g["label"]) for g in raw or ())


def load_policy(ctx: LoadContext, name: str) -> Policy:
    data = ctx.document(name)
    policy = data["policy"]
    return Policy(
        name=policy["name"],
        documents=tuple(d["id"] for d in policy["documents"]),
        procedures=code_set(data["procedures"]),
        covered=_groups(data["covered"]),
        excluded=_groups(data.get("excluded")),
        not_applicable=_groups(data.get("not_applicable")),
        unverified=bool(data.get("unverified")),
        unverified_note=str(data.get("unverified_note", "")),
        severity=tuple((s["match"], s["severity"]) for s in data["severity"]),
        source=RuleSource.from_json(data["source"]),
    )


@dataclass(frozen=True, slots=True)
class LcdData:
    policies: tuple[Policy, ...]
    articles: LcdArticleTable | None


def load(ctx: LoadContext) -> LcdData:
    table = ctx.reference.get("lcd-articles")
    if table is not None and not isinstance(table, LcdArticleTable):
        raise TypeError(
            f"reference 'lcd-articles': expected a LcdArticleTable, got {type(table).__name__}"
        )
    return LcdData(tuple(load_policy(ctx, name) for name in POLICY_FILES), table)


def _articles_of(policy: Policy, table: LcdArticleTable) -> tuple[str, ...]:
    """The policy's billing articles: those its documents name, and those the imported
    article_related_documents.csv relates to one of its LCDs."""
    lcd_ids = [d for d in policy.documents if d.startswith("L")]
    return tuple(dict.fromkeys([*policy.articles, *table.related_to(lcd_ids)]))


ARTICLE_URL = (
    "https://www.cms.gov/medicare-coverage-database/view/article.aspx?articleId={n}&ver={v}"
)


def _article_source(policy: Policy, lists: list[ArticleList]) -> RuleSource:
    first = lists[0]
    return RuleSource(
        title=(
            f"CMS Billing and Coding article{'s' if len(lists) > 1 else ''} "
            f"{', '.join(a.label for a in lists)} for the {policy.name} LCD "
            f"({', '.join(d for d in policy.documents if not d.startswith('A'))}): ICD-10-CM "
            "list imported from the Medicare Coverage Database download"
        ),
        url=ARTICLE_URL.format(n=first.article_id[1:], v=first.version),
        document_id=first.article_id,
        note="; ".join(
            f"{a.article_id} version {a.version}: imported "
            f"{a.imported_at.date().isoformat()} from {', '.join(a.files)}"
            for a in lists
        ),
    )


def _check_imported(
    work: WorkClaim, policy: Policy, line: WorkLine, dx: list[str], lists: list[ArticleList]
) -> None:
    if any(normalise(c) in a.covered for c in dx for a in lists):
        return
    listed = [
        f"{with_dot(c)} is listed as not covered by {a.article_id} (group {a.noncovered[normalise(c)]})"
        for c in dx
        for a in lists
        if normalise(c) in a.noncovered
    ]
    why = (
        "; ".join(listed)
        if listed
        else "none of them is on the covered list of "
        + ", ".join(f"{a.article_id} version {a.version}" for a in lists)
    )
    shown = ", ".join(with_dot(c) for c in dx)
    work.add(
        "lcd.diagnosis-not-covered",
        policy.severity_for(work.payer),
        f"Line {line.origin}: {line.code} falls under the {policy.name} LCD "
        f"({', '.join(policy.documents)}) but its diagnoses {shown} do not support it: "
        f"{why}. Point the line to the diagnosis the documentation supports, or the payer will "
        f"deny it as not medically necessary. Checked against the billing article list "
        f"{', '.join(a.label for a in lists)}.",
        [line],
        source=_article_source(policy, lists),
    )


def check(work: WorkClaim, data: LcdData) -> None:
    for policy in data.policies:
        for line in work.active():
            if line.code not in policy.procedures:
                continue
            dx = work.diagnoses_of(line)
            if not dx:
                continue  # the icd10 family reports pointers that point nowhere
            if any(g.holds(c) for c in dx for g in policy.not_applicable):
                continue
            if data.articles is not None:
                day = line.service_date or work.service_date
                lists = [
                    found
                    for article in _articles_of(policy, data.articles)
                    if (found := data.articles.current(article, day)) is not None
                ]
                if lists:
                    _check_imported(work, policy, line, dx, lists)
                    continue
            if any(g.holds(c) for c in dx for g in policy.covered):
                continue
            excluded = [(c, g) for c in dx for g in policy.excluded if g.holds(c)]
            shown = ", ".join(with_dot(c) for c in dx)
            why = (
                "; ".join(f"{with_dot(c)} ({g.label})" for c, g in excluded)
                if excluded
                else f"none of them is in the policy's covered groups ({len(policy.covered)})"
            )
            caveat = f" Note: {policy.unverified_note}" if policy.unverified else ""
            work.add(
                "lcd.diagnosis-not-covered",
                policy.severity_for(work.payer),
                f"Line {line.origin}: {line.code} falls under the {policy.name} LCD "
                f"({', '.join(policy.documents)}) but its diagnoses {shown} do not support it: "
                f"{why}. Point the line to the diagnosis the documentation supports, or the "
                f"payer will deny it as not medically necessary.{caveat}",
                [line],
                source=policy.source,
            )


FAMILY: Family[LcdData] = Family("lcd", load, check)
