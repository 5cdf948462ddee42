"""Hypothesis strategies for hostile input to the fake OKX server: odd JSON, deep
nesting, huge numbers, non-ASCII text and binary garbage, shaped as REST requests
(method, path, query, headers, body) and as WebSocket frames.

Values are mostly OKX's own parameter names with a hostile value, so requests get past
routing and signature checks into the handlers instead of all failing at the door.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import attrs
from hypothesis import strategies as st

from qwentrade.testing.fake_okx.routes import ROUTES

BTC = "BTC-USDT-SWAP"
ROUTE_KEYS = sorted(ROUTES)
# fmt: off
PARAM_NAMES = (
    "instId", "instType", "instFamily", "uly", "bar", "after", "before", "begin", "end",
    "limit", "sz", "px", "side", "ordType", "tdMode", "posSide", "clOrdId", "ordId", "tag",
    "reduceOnly", "tgtCcy", "lever", "mgnMode", "posMode", "ccy", "state", "algoId",
    "algoClOrdId", "slTriggerPx", "tpTriggerPx", "slOrdPx", "tpOrdPx", "closeFraction",
    "attachAlgoOrds", "slTriggerPxType", "type", "posId",
)
# fmt: on
HUGE_NUMBER_TEXTS = (
    "1e999999999",
    "-1e999999999",
    "1e-999999999",
    "9" * 5000,
    "-" + "9" * 30,
    "0." + "0" * 400 + "1",
    "NaN",
    "sNaN",
    "Infinity",
    "-inf",
    "0e999999999",
    "1_000",
    "\u0661\u0662",  # Arabic-Indic digits: str.isdigit() says yes
    "\u00b2",  # superscript two: isdigit() yes, int() no
    "1714564800.5",
    "",
)
GOOD_VALUES = (BTC, "SWAP", "cross", "buy", "sell", "limit", "market", "1", "100", "1H", "net")


def deep_json_text(depth: int, opener: str = "[") -> str:
    closer = "]" if opener == "[" else "}"
    if opener == "{":
        return '{"a":' * depth + "1" + closer * depth
    return opener * depth + closer * depth


# -- values --------------------------------------------------------------------------------

odd_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0x80), min_size=1, max_size=20),
    st.sampled_from(HUGE_NUMBER_TEXTS),
    st.sampled_from(GOOD_VALUES),
    st.integers(min_value=200, max_value=3000).map(lambda n: "x" * n),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    odd_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(PARAM_NAMES) | st.text(max_size=8), inner, max_size=4),
    ),
    max_leaves=12,
)
param_objects = st.dictionaries(st.sampled_from(PARAM_NAMES), json_values, max_size=8)


@st.composite
def json_body_text(draw) -> str:
    """A body as text: an OKX-like object or list, any JSON, or text that is barely JSON."""
    kind = draw(st.sampled_from(["object", "list", "any", "deep", "huge", "raw"]))
    if kind == "object":
        return json.dumps(draw(param_objects))
    if kind == "list":
        return json.dumps(draw(st.lists(param_objects, max_size=3)))
    if kind == "any":
        return json.dumps(draw(json_values))
    if kind == "deep":
        depth = draw(st.sampled_from([999, 1001, 5000, 100_000]))
        inner = deep_json_text(depth, draw(st.sampled_from(["[", "{"])))
        return draw(st.sampled_from([inner, f'{{"instId":{inner}}}', f"[{inner}]"]))
    if kind == "huge":
        name = draw(st.sampled_from(["sz", "px", "lever", "instId", "clOrdId"]))
        number = draw(st.sampled_from(["1e999999999", "9" * 4000, "-1e400", "1" + "0" * 400]))
        return f'{{"instId":"{BTC}","tdMode":"cross","side":"buy","ordType":"limit",' + (
            f'"{name}":{number}}}'
        )
    return draw(st.text(max_size=60))


request_bodies = st.one_of(
    st.just(b""),
    json_body_text().map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(max_size=200),
)


# -- REST ----------------------------------------------------------------------------------


def _header_bytes(raw: bytes) -> bytes:
    """``raw`` made legal as an HTTP header value (h11 refuses control bytes)."""
    cleaned = bytes(b if b > 0x20 and b != 0x7F else 0x78 for b in raw)
    return cleaned or b"x"


header_values = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=50),
    st.text(min_size=1, max_size=30).map(
        lambda t: _header_bytes(t.encode("utf-8", "surrogatepass"))
    ),
    st.binary(min_size=1, max_size=60).map(_header_bytes),
    st.just("2024-03-04T00:00:00.000Z"),
)
AUTH_HEADERS = ("OK-ACCESS-KEY", "OK-ACCESS-SIGN", "OK-ACCESS-TIMESTAMP", "OK-ACCESS-PASSPHRASE")


@st.composite
def query_strings(draw) -> str:
    """A query already percent-encoded as sent: OKX-like pairs with hostile values,
    occasionally broken escapes."""
    pairs = draw(st.lists(st.tuples(st.sampled_from(PARAM_NAMES) | st.text(max_size=6), odd_text)))
    parts = [
        quote(k.encode("utf-8", "surrogatepass"), safe="")
        + "="
        + quote(v.encode("utf-8", "surrogatepass"), safe="")
        for k, v in pairs
    ]
    parts += draw(st.lists(st.sampled_from(["%", "%zz", "%ff%fe", "=", "&", "a=b=c", ";x"])))
    return "&".join(draw(st.permutations(parts)))


@attrs.frozen
class HostileRequest:
    """One REST request: ``sign`` asks the test to add correct OK-ACCESS-* headers for
    exactly what is sent (so the handlers see the hostile body and query)."""

    method: str
    path: str
    query: str
    headers: dict[str, str | bytes]
    body: bytes
    sign: bool


@st.composite
def hostile_requests(draw) -> HostileRequest:
    if draw(st.integers(0, 9)) == 0:
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]))
        path = "/api/v5/" + quote(draw(st.text(max_size=20)).encode("utf-8", "surrogatepass"))
    else:
        method, path = draw(st.sampled_from(ROUTE_KEYS))
    headers = draw(st.dictionaries(st.sampled_from(AUTH_HEADERS), header_values, max_size=4))
    if draw(st.booleans()):
        headers["Content-Type"] = "application/json"
    return HostileRequest(
        method=method,
        path=path,
        query=draw(query_strings()),
        headers=headers,
        body=draw(request_bodies),
        sign=draw(st.booleans()),
    )


# -- WebSocket ------------------------------------------------------------------------------


@st.composite
def ws_text_frames(draw) -> str:
    """A text frame: an OKX-shaped request with hostile parts, or anything else."""
    kind = draw(st.sampled_from(["request", "request", "login", "any", "deep", "text"]))
    if kind in ("request", "login"):
        op = (
            "login"
            if kind == "login"
            else draw(st.sampled_from(["subscribe", "unsubscribe", "login"]) | st.text(max_size=10))
        )
        arg = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "channel": st.sampled_from(["orders", "positions", "account"]) | json_values,
                    "instType": st.sampled_from(["SWAP", "ANY"]) | json_values,
                    "instId": st.just(BTC) | json_values,
                    "instFamily": json_values,
                    "extraParams": st.one_of(
                        st.sampled_from(['{"updateInterval": "0"}', '{"updateInterval": "2000"}']),
                        json_values.map(lambda v: json.dumps({"updateInterval": v})),
                        json_values,
                        st.just(json.dumps(deep_json_text(5000))),
                    ),
                    "apiKey": json_values,
                    "passphrase": json_values,
                    "timestamp": st.sampled_from(HUGE_NUMBER_TEXTS) | json_values,
                    "sign": json_values,
                },
            )
        )
        request = {"op": op, "args": draw(st.lists(st.just(arg) | json_values, max_size=3))}
        if draw(st.booleans()):
            request["id"] = draw(json_values)
        return json.dumps(request)
    if kind == "any":
        return json.dumps(draw(json_values))
    if kind == "deep":
        return deep_json_text(draw(st.sampled_from([1001, 100_000])), draw(st.sampled_from("[{")))
    return draw(st.text(max_size=100))


ws_frames = st.one_of(
    ws_text_frames().map(lambda text: ("text", text)),
    st.binary(max_size=100).map(lambda data: ("binary", data)),
).filter(lambda frame: frame[1] not in ("ping", b"ping"))
