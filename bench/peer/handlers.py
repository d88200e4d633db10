"""A benchmark peer, NOT part of the product: `open thread` and `send message`
written plainly in Python with boto3, the way a team would write them for
the python3.11 Lambda runtime, doing the same DynamoDB work as the Rust
functions (same table layout, same round trips: open = one BatchGetItem,
plus one TransactWriteItems when the thread is new; send = one
BatchGetItem + one TransactWriteItems). `make bench` runs them under
awslambdaric (`python -m awslambdaric handlers.open_thread`) beside the
Rust binaries.

Validation is lighter than the Rust handlers' (this is a yardstick, not a
second implementation); the item shapes follow shared/src/store/*.rs.
"""

import hashlib
import json
import os
import secrets
import time
from datetime import datetime, timezone

import boto3

# Built once per process, during init, as the Rust functions build theirs.
DB = boto3.client("dynamodb")
TABLE = os.environ["LIAISON_TABLE"]
MANAGER_GROUP = "account-managers"
PREVIEW_CHARS = 140
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def ulid_str(n):
    out = []
    for _ in range(26):
        out.append(CROCKFORD[n & 31])
        n >>= 5
    return "".join(reversed(out))


def new_ulid():
    return (int(time.time() * 1000) << 80) | secrets.randbits(80)


def ulid_int(s):
    n = 0
    for ch in s:
        n = (n << 5) | CROCKFORD.index(ch)
    return n


def ulid_time_ms(n):
    return n >> 80


def iso_ms(ms):
    dt = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def S(v):
    return {"S": v}


def respond(status, body):
    ctype = "application/problem+json" if status >= 400 else "application/json"
    return {
        "statusCode": status,
        "headers": {"content-type": ctype},
        "body": json.dumps(body),
    }


def problem(status, code, detail):
    return respond(status, {"type": "about:blank", "status": status, "code": code, "detail": detail})


def principal(event):
    claims = event.get("requestContext", {}).get("authorizer", {}).get("jwt", {}).get("claims") or {}
    user = claims.get("sub")
    if not user:
        return None
    groups = claims.get("cognito:groups", "")
    manager = MANAGER_GROUP in (groups if isinstance(groups, list) else str(groups))
    return {
        "id": user,
        "name": claims.get("name", user),
        "role": "manager" if manager else "client",
        "account": None if manager else claims.get("custom:account_id"),
    }


def batch_get(keys):
    found, pending = [], keys
    while pending:
        out = DB.batch_get_item(RequestItems={TABLE: {"Keys": pending, "ConsistentRead": True}})
        found.extend(out.get("Responses", {}).get(TABLE, []))
        pending = out.get("UnprocessedKeys", {}).get(TABLE, {}).get("Keys", [])
    return found


def key(pk, sk):
    return {"pk": S(pk), "sk": S(sk)}


def thread_view(item, unread=False):
    scope = {"kind": item["scope_kind"]["S"]}
    for f in ("client_id", "campaign_id", "creative_id"):
        if f in item:
            scope[f] = item[f]["S"]
    scope["label"] = item["scope_label"]["S"]
    last = None
    if "last_message" in item:
        m = item["last_message"]["M"]
        last = {
            "id": m["id"]["S"],
            "author": {"id": m["author_id"]["S"], "name": m["author_name"]["S"], "role": m["author_role"]["S"]},
            "preview": m["preview"]["S"],
            "urgent": m["urgent"]["BOOL"],
        }
    return {
        "id": item["thread_id"]["S"],
        "account_id": item["account_id"]["S"],
        "scope": scope,
        "created_at": item["created_at"]["S"],
        "created_by": item["created_by"]["S"],
        "last_activity_at": item["last_activity_at"]["S"],
        "last_message": last,
        "message_count": int(item["message_count"]["N"]),
        "unread": unread,
    }


def thread_id_for(account, scope_key):
    digest = hashlib.sha256(account.encode() + b"\x00" + scope_key.encode()).digest()
    return "thr_" + ulid_str(int.from_bytes(digest[:16], "big")).lower()


# POST /threads
def open_thread(event, context):
    caller = principal(event)
    if caller is None:
        return problem(401, "unauthenticated", "no verified identity")
    try:
        body = json.loads(event.get("body") or "{}")
    except ValueError:
        return problem(400, "invalid_json", "the body is not JSON")
    account = caller["account"] or body.get("account_id")
    if not account or (caller["account"] and body.get("account_id") not in (None, account)):
        return problem(422, "validation_failed", "account_id is required")
    scope = body.get("scope") or {}
    kind = scope.get("kind")
    path = [scope.get(f) for f in ("client_id", "campaign_id", "creative_id")]
    depth = {"general": 0, "client": 1, "campaign": 2, "creative": 3}.get(kind)
    if depth is None or not all(path[:depth]):
        return problem(422, "validation_failed", "scope is invalid")
    ids = path[:depth]
    scope_key = "#".join([kind] + ids)
    thread = thread_id_for(account, scope_key)

    wanted = [
        key(f"THREAD#{thread}", "META"),
        key(f"THREAD#{thread}", f"INBOX#{caller['id']}"),
        key(f"ACCOUNT#{account}", "PROFILE"),
    ] + [key(f"ACCOUNT#{account}", "CAT#" + "#".join(ids[: i + 1])) for i in range(len(ids))]
    meta = row = profile = None
    catalog = {}
    for item in batch_get(wanted):
        sk = item["sk"]["S"]
        if sk == "META":
            meta = item
        elif sk.startswith("INBOX#"):
            row = item
        elif sk == "PROFILE":
            profile = item
        else:
            catalog[sk] = item
    if profile is None:
        return problem(404, "not_found", "no such thread")
    people = [(p["M"]["id"]["S"], "client") for p in profile["users"]["L"]] + [
        (p["M"]["id"]["S"], "manager") for p in profile["managers"]["L"]
    ]
    if not any(u == caller["id"] and r == caller["role"] for u, r in people):
        return problem(404, "not_found", "no such thread")
    if row is not None:
        return respond(200, thread_view(row, row.get("unread", {}).get("BOOL", False)))
    if meta is not None:
        return respond(200, thread_view(meta))

    names = []
    for i in range(len(ids)):
        entry = catalog.get("CAT#" + "#".join(ids[: i + 1]))
        if entry is None or entry.get("archived", {}).get("BOOL", False):
            return problem(422, "validation_failed", "the scope names no open catalog entry")
        names.append(entry["name"]["S"])
    now = iso_ms(int(time.time() * 1000))
    attrs = {
        "thread_id": S(thread),
        "account_id": S(account),
        "created_at": S(now),
        "created_by": S(caller["id"]),
        "last_activity_at": S(now),
        "message_count": {"N": "0"},
        "scope_kind": S(kind),
        "scope_label": S(" / ".join(names) if names else "General"),
    }
    for f, v in zip(("client_id", "campaign_id", "creative_id"), ids):
        attrs[f] = S(v)
    meta_item = dict(attrs, **key(f"THREAD#{thread}", "META"))
    meta_item.update(
        type=S("thread"),
        scope_key=S(scope_key),
        participants={"M": {u: S(r) for u, r in people}},
    )
    items = [
        {"Put": {"TableName": TABLE, "Item": meta_item, "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Put": {"TableName": TABLE, "Item": dict(key(f"ACCOUNT_THREADS#{account}", f"THREAD#{thread}"), scope_key=S(scope_key))}},
    ]
    activity = f"{now}#{thread}"
    for user, role in people:
        inbox = dict(attrs, **key(f"THREAD#{thread}", f"INBOX#{user}"))
        inbox.update(
            type=S("inbox"),
            user_id=S(user),
            role=S(role),
            gsi_user=S(f"USER#{user}"),
            gsi_user_account=S(f"USER#{user}#ACCOUNT#{account}"),
            activity=S(activity),
            unread={"BOOL": False},
        )
        items.append({"Put": {"TableName": TABLE, "Item": inbox}})
    try:
        DB.transact_write_items(TransactItems=items)
    except DB.exceptions.TransactionCanceledException:
        return problem(409, "conflict", "opened concurrently; retry")
    return respond(201, thread_view(meta_item))


# POST /threads/{thread_id}/messages
def send_message(event, context):
    caller = principal(event)
    if caller is None:
        return problem(401, "unauthenticated", "no verified identity")
    thread = (event.get("pathParameters") or {}).get("thread_id", "")
    try:
        body = json.loads(event.get("body") or "{}")
    except ValueError:
        return problem(400, "invalid_json", "the body is not JSON")
    cmid = body.get("client_message_id")
    text = body.get("body") or ""
    urgent = bool(body.get("urgent", False))
    if not cmid or not text.strip():
        return problem(422, "validation_failed", "client_message_id and body are required")

    metas = batch_get([key(f"THREAD#{thread}", "META")])
    if not metas:
        return problem(404, "not_found", "no such thread")
    meta = metas[0]
    participants = {u: r["S"] for u, r in meta.get("participants", {}).get("M", {}).items()}
    if caller["id"] not in participants:
        return problem(404, "not_found", "no such thread")

    fresh = new_ulid()
    last = meta.get("last_message_id", {}).get("S")
    if last and fresh <= ulid_int(last):
        fresh = ulid_int(last) + 1
    mid = ulid_str(fresh)
    at = iso_ms(ulid_time_ms(fresh))
    account = meta["account_id"]["S"]
    author = {"id": caller["id"], "name": caller["name"], "role": caller["role"]}
    fingerprint = hashlib.sha256(text.encode() + bytes([0, int(urgent), 0])).hexdigest()
    last_message = {
        "M": {
            "id": S(mid),
            "author_id": S(author["id"]),
            "author_name": S(author["name"]),
            "author_role": S(author["role"]),
            "preview": S(text[:PREVIEW_CHARS]),
            "urgent": {"BOOL": urgent},
        }
    }
    message = dict(key(f"THREAD#{thread}", f"MSG#{mid}"))
    message.update(
        type=S("message"),
        message_id=S(mid),
        thread_id=S(thread),
        account_id=S(account),
        client_message_id=S(cmid),
        author_id=S(author["id"]),
        author_name=S(author["name"]),
        author_role=S(author["role"]),
        body=S(text),
        urgent={"BOOL": urgent},
        created_at=S(at),
        attachments={"L": []},
    )
    claim = dict(key(f"THREAD#{thread}", f"IDEM#{caller['id']}#{cmid}"))
    claim.update(type=S("idempotency"), message_id=S(mid), fingerprint=S(fingerprint))
    common = "SET last_activity_at = :at, last_message = :lm, last_message_id = :id, message_count = message_count + :one"
    base = {":at": S(at), ":lm": last_message, ":id": S(mid), ":one": {"N": "1"}}
    side = "last_client_message" if author["role"] == "client" else "last_manager_message"
    items = [
        {"Put": {"TableName": TABLE, "Item": message, "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Put": {"TableName": TABLE, "Item": claim, "ConditionExpression": "attribute_not_exists(pk)"}},
        {
            "Update": {
                "TableName": TABLE,
                "Key": key(f"THREAD#{thread}", "META"),
                "UpdateExpression": f"{common}, {side} = :id",
                "ConditionExpression": "attribute_not_exists(last_message_id) OR last_message_id < :id",
                "ExpressionAttributeValues": base,
            }
        },
    ]
    activity = f"{at}#{thread}"
    for user, role in participants.items():
        values = dict(base, **{":act": S(activity)})
        if user == author["id"]:
            values[":f"] = {"BOOL": False}
            expr = f"{common}, activity = :act, read_position = :id, unread = :f REMOVE gsi_unread, gsi_unread_account"
        elif role != author["role"]:
            values.update({":t": {"BOOL": True}, ":u": S(f"UNREAD#{user}"), ":ua": S(f"UNREAD#{user}#ACCOUNT#{account}")})
            expr = f"{common}, activity = :act, other_side_last = :id, unread = :t, gsi_unread = :u, gsi_unread_account = :ua"
        else:
            expr = f"{common}, activity = :act"
        items.append(
            {
                "Update": {
                    "TableName": TABLE,
                    "Key": key(f"THREAD#{thread}", f"INBOX#{user}"),
                    "UpdateExpression": expr,
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": values,
                }
            }
        )
    try:
        DB.transact_write_items(TransactItems=items)
    except DB.exceptions.TransactionCanceledException as e:
        reasons = e.response.get("CancellationReasons", [])
        if len(reasons) > 1 and reasons[1].get("Code") == "ConditionalCheckFailed":
            return problem(409, "replay", "this client_message_id was used (replay not modelled here)")
        return problem(503, "unavailable", "try again")
    return respond(
        201,
        {
            "id": mid,
            "thread_id": thread,
            "client_message_id": cmid,
            "author": author,
            "body": text,
            "urgent": urgent,
            "attachments": [],
            "created_at": at,
        },
    )
