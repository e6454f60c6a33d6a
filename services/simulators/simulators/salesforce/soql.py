"""A SOQL parser for the subset connectors and admins use: a tokenizer and a recursive descent.

SELECT field, Relationship.Field, COUNT() FROM Object
  [WHERE cond] [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]
cond: AND / OR / NOT / parentheses; =, !=, <>, <, <=, >, >=, IN, NOT IN, LIKE; literals:
'strings', numbers, TRUE/FALSE, NULL, date (2026-01-31), datetime (2026-01-31T10:00:00Z), and
date literals TODAY, YESTERDAY, TOMORROW, LAST_N_DAYS:n, NEXT_N_DAYS:n.
As in SOQL, mixing AND and OR at one level without parentheses is a syntax error.
Syntax errors are MALFORMED_QUERY; unknown fields INVALID_FIELD; unknown objects INVALID_TYPE
(REST "Query", SOQL and SOSL Reference "SOQL SELECT Syntax").
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from simulators.salesforce.errors import ApiError
from simulators.salesforce.schema import FieldDef, ObjectDef, object_named

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<string>'(?:\\.|[^'\\])*')
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),:])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE,
)
_KEYWORDS = {
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "LIKE",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "NULLS",
    "FIRST",
    "LAST",
    "LIMIT",
    "OFFSET",
    "NULL",
    "TRUE",
    "FALSE",
    "COUNT",
}
_DATE_LITERALS = {"TODAY", "YESTERDAY", "TOMORROW", "LAST_N_DAYS", "NEXT_N_DAYS"}
_TEXT_TYPES = {
    "id",
    "string",
    "textarea",
    "email",
    "phone",
    "picklist",
    "combobox",
    "reference",
}


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    column: int

    @property
    def upper(self) -> str:
        return self.text.upper()


@dataclass(frozen=True)
class FieldPath:
    """`Email` or `Owner.Email`: zero or one relationship hop, resolved against the schema."""

    relationship: FieldDef | None
    field: FieldDef
    target: ObjectDef

    @property
    def key(self) -> str:
        if self.relationship is None:
            return self.field.name
        return f"{self.relationship.relationship_name}.{self.field.name}"


@dataclass(frozen=True)
class DateRange:
    start: dt.datetime
    end: dt.datetime


Literal = str | int | float | bool | None | dt.date | dt.datetime | DateRange


@dataclass(frozen=True)
class Comparison:
    path: FieldPath
    op: str  # = != < <= > >= IN NOT IN LIKE
    value: Literal | tuple[Literal, ...]


@dataclass(frozen=True)
class Not:
    operand: Condition


@dataclass(frozen=True)
class BoolOp:
    op: str  # AND | OR
    operands: tuple[Condition, ...]


Condition = Comparison | Not | BoolOp


@dataclass(frozen=True)
class OrderItem:
    path: FieldPath
    descending: bool
    nulls_last: bool


@dataclass(frozen=True)
class Query:
    object: ObjectDef
    fields: tuple[FieldPath, ...]
    count_only: bool
    where: Condition | None
    order_by: tuple[OrderItem, ...]
    limit: int | None
    offset: int | None


def malformed(message: str, column: int | None = None) -> ApiError:
    where = f"ERROR at Row:1:Column:{column}\n" if column is not None else ""
    return ApiError(400, "MALFORMED_QUERY", f"{where}{message}")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise malformed(f"unexpected token: '{text[pos]}'", pos + 1)
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, m.group(), pos + 1))
        pos = m.end()
    tokens.append(Token("eof", "", len(text) + 1))
    return tokens


class _Parser:
    def __init__(self, text: str, today: dt.date, now: dt.datetime) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.today = today
        self.now = now
        self.object: ObjectDef | None = None

    # --- token helpers ---
    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        tok = self.peek()
        self.i += 1
        return tok

    def at(self, *words: str) -> bool:
        tok = self.peek()
        return tok.kind == "ident" and tok.upper in words

    def expect_word(self, word: str) -> Token:
        tok = self.take()
        if tok.kind != "ident" or tok.upper != word:
            raise self.unexpected(tok)
        return tok

    def expect_punct(self, text: str) -> Token:
        tok = self.take()
        if tok.text != text:
            raise self.unexpected(tok)
        return tok

    def unexpected(self, tok: Token) -> ApiError:
        shown = tok.text or "<EOF>"
        return malformed(f"unexpected token: '{shown}'", tok.column)

    # --- grammar ---
    def query(self) -> Query:
        self.expect_word("SELECT")
        raw_fields: list[Token] = []
        count_only = False
        if self.at("COUNT") and self.peek(1).text == "(":
            self.take(), self.expect_punct("("), self.expect_punct(")")
            count_only = True
        else:
            raw_fields.append(self.field_token())
            while self.peek().text == ",":
                self.take()
                raw_fields.append(self.field_token())
        self.expect_word("FROM")
        obj_tok = self.take()
        if obj_tok.kind != "ident" or obj_tok.upper in _KEYWORDS:
            raise self.unexpected(obj_tok)
        obj = object_named(obj_tok.text)
        if obj is None:
            raise ApiError(400, "INVALID_TYPE", f"sObject type '{obj_tok.text}' is not supported.")
        self.object = obj
        fields = tuple(self.resolve(t) for t in raw_fields)
        where = None
        if self.at("WHERE"):
            self.take()
            where = self.condition()
        order: list[OrderItem] = []
        if self.at("ORDER"):
            self.take()
            self.expect_word("BY")
            order.append(self.order_item())
            while self.peek().text == ",":
                self.take()
                order.append(self.order_item())
        limit = self.int_clause("LIMIT")
        offset = self.int_clause("OFFSET")
        if self.peek().kind != "eof":
            raise self.unexpected(self.peek())
        return Query(obj, fields, count_only, where, tuple(order), limit, offset)

    def field_token(self) -> Token:
        tok = self.take()
        if tok.kind != "ident" or tok.upper in _KEYWORDS - {"COUNT"}:
            raise self.unexpected(tok)
        return tok

    def int_clause(self, word: str) -> int | None:
        if not self.at(word):
            return None
        self.take()
        tok = self.take()
        if tok.kind != "number" or not tok.text.isdigit():
            raise self.unexpected(tok)
        return int(tok.text)

    def resolve(self, tok: Token) -> FieldPath:
        assert self.object is not None
        parts = tok.text.split(".")
        if len(parts) > 1 and parts[0].lower() == self.object.name.lower():
            parts = parts[1:]  # `Contact.Email` qualified by the object name itself
        if len(parts) == 1:
            f = self.object.field_named(parts[0])
            if f is None:
                raise _no_such_column(parts[0], self.object.name, tok.column)
            return FieldPath(None, f, self.object)
        if len(parts) == 2:
            rel = self.object.relationship(parts[0])
            if rel is None:
                raise _no_such_column(parts[0], self.object.name, tok.column)
            target = object_named(rel.reference_to[0])
            assert target is not None
            f = target.field_named(parts[1])
            if f is None:
                raise _no_such_column(parts[1], target.name, tok.column)
            return FieldPath(rel, f, target)
        raise malformed("relationship paths deeper than one hop are not supported", tok.column)

    def order_item(self) -> OrderItem:
        path = self.resolve(self.field_token())
        descending = False
        if self.at("ASC", "DESC"):
            descending = self.take().upper == "DESC"
        nulls_last = descending
        if self.at("NULLS"):
            self.take()
            word = self.take()
            if word.upper not in ("FIRST", "LAST"):
                raise self.unexpected(word)
            nulls_last = word.upper == "LAST"
        return OrderItem(path, descending, nulls_last)

    def condition(self) -> Condition:
        first = self.unary()
        if not self.at("AND", "OR"):
            return first
        op = self.peek().upper
        operands = [first]
        while self.at("AND", "OR"):
            tok = self.take()
            if tok.upper != op:  # SOQL requires parentheses to mix AND and OR
                raise self.unexpected(tok)
            operands.append(self.unary())
        return BoolOp(op, tuple(operands))

    def unary(self) -> Condition:
        if self.at("NOT"):
            self.take()
            return Not(self.unary())
        if self.peek().text == "(":
            self.take()
            inner = self.condition()
            self.expect_punct(")")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        path = self.resolve(self.field_token())
        tok = self.take()
        if tok.kind == "op":
            op = "!=" if tok.text == "<>" else tok.text
            return Comparison(path, op, self.typed(path, self.literal()))
        if tok.kind == "ident" and tok.upper == "NOT":
            self.expect_word("IN")
            return Comparison(path, "NOT IN", self.value_list(path))
        if tok.kind == "ident" and tok.upper == "IN":
            return Comparison(path, "IN", self.value_list(path))
        if tok.kind == "ident" and tok.upper == "LIKE":
            value, value_tok = self.literal()
            if not isinstance(value, str):
                raise malformed("LIKE needs a string value", value_tok.column)
            return Comparison(path, "LIKE", value)
        raise self.unexpected(tok)

    def value_list(self, path: FieldPath) -> tuple[Literal, ...]:
        self.expect_punct("(")
        values = [self.typed(path, self.literal())]
        while self.peek().text == ",":
            self.take()
            values.append(self.typed(path, self.literal()))
        self.expect_punct(")")
        return tuple(values)

    def literal(self) -> tuple[Literal, Token]:
        tok = self.take()
        if tok.kind == "string":
            return _unescape(tok.text[1:-1]), tok
        if tok.kind == "number":
            return (float(tok.text) if "." in tok.text else int(tok.text)), tok
        if tok.kind == "datetime":
            return _parse_datetime(tok.text), tok
        if tok.kind == "date":
            return dt.date.fromisoformat(tok.text), tok
        if tok.kind == "ident" and tok.upper in ("TRUE", "FALSE"):
            return tok.upper == "TRUE", tok
        if tok.kind == "ident" and tok.upper == "NULL":
            return None, tok
        if tok.kind == "ident" and tok.upper in _DATE_LITERALS:
            return self.date_literal(tok), tok
        raise self.unexpected(tok)

    def date_literal(self, tok: Token) -> DateRange:
        day = dt.timedelta(days=1)
        base = dt.datetime.combine(self.today, dt.time(), dt.UTC)
        if tok.upper in ("LAST_N_DAYS", "NEXT_N_DAYS"):
            self.expect_punct(":")
            n_tok = self.take()
            if n_tok.kind != "number" or not n_tok.text.isdigit():
                raise self.unexpected(n_tok)
            n = int(n_tok.text)
            if tok.upper == "LAST_N_DAYS":  # includes today (SOQL "Date Formats and Literals")
                return DateRange(base - n * day, base + day)
            return DateRange(base, base + (n + 1) * day)
        offset = {"TODAY": 0, "YESTERDAY": -1, "TOMORROW": 1}[tok.upper]
        return DateRange(base + offset * day, base + (offset + 1) * day)

    def typed(self, path: FieldPath, parsed: tuple[Literal, Token]) -> Literal:
        value, tok = parsed
        f = path.field
        if value is None:
            return None
        kind = f.type
        ok = (
            (kind in _TEXT_TYPES and isinstance(value, str))
            or (kind == "boolean" and isinstance(value, bool))
            or (kind == "int" and isinstance(value, int | float) and not isinstance(value, bool))
            or (kind == "datetime" and isinstance(value, dt.datetime | DateRange))
            or (
                kind == "date"
                and isinstance(value, dt.date | DateRange)
                and not isinstance(value, dt.datetime)
            )
        )
        if ok:
            return value
        quoted = " and should not be enclosed in quotes" if isinstance(value, str) else ""
        wanted = {"datetime": "dateTime", "int": "number"}.get(kind, kind)
        raise malformed(
            f"value of filter criterion for field '{f.name}' must be of type {wanted}{quoted}",
            tok.column,
        )


def _no_such_column(name: str, entity: str, column: int) -> ApiError:
    return ApiError(
        400,
        "INVALID_FIELD",
        f"ERROR at Row:1:Column:{column}\nNo such column '{name}' on entity '{entity}'. If you "
        "are attempting to use a custom field, be sure to append the '__c' after the custom "
        "field name. Please reference your WSDL or the describe call for the appropriate names.",
    )


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def _parse_datetime(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


def parse(text: str, now: dt.datetime) -> Query:
    if not text.strip():
        raise malformed("unexpected token: '<EOF>'", 1)
    return _Parser(text, now.date(), now).query()
