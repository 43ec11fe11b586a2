"""X12 5010 engine: pure codecs (str/bytes in, str and typed models out), no I/O.

Base: `delimiters` (from the ISA), `segments` (tokenize/build), `envelope` (ISA/GS/ST read and
write, counts and control numbers), `errors` (located problems). One module per implementation
guide, named after it: `t278_005010x217` (278 request/response). See
docs/adding-a-transaction.md for the next one.
"""

from integration.x12.delimiters import DEFAULT_DELIMITERS, Delimiters, read_delimiters
from integration.x12.envelope import (
    ControlNumberSource,
    EnvelopeParams,
    SequentialControlNumbers,
    Transaction,
    TransactionContext,
    read_transactions,
    read_transactions_from,
)
from integration.x12.errors import Problem, X12Error
from integration.x12.segments import Segment, build_segment, iter_segments, tokenize

__all__ = [
    "DEFAULT_DELIMITERS",
    "ControlNumberSource",
    "Delimiters",
    "EnvelopeParams",
    "Problem",
    "Segment",
    "SequentialControlNumbers",
    "Transaction",
    "TransactionContext",
    "X12Error",
    "build_segment",
    "iter_segments",
    "read_delimiters",
    "read_transactions",
    "read_transactions_from",
    "tokenize",
]
