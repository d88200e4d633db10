"""moto server with one request at a time.

moto applies a DynamoDB transaction's condition checks and writes without
isolation from concurrent requests, where DynamoDB itself isolates them
(ConditionalCheckFailed / TransactionConflict). Our concurrency tests need
the real semantics, so every request is handled under one lock; the server
stays threaded so slow clients and keep-alive connections do not block it.

usage: python scripts/moto_server.py HOST PORT
"""

import collections
import copy
import signal
import sys
import threading
import time

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


class _OncePerTransaction:
    """moto backs up the table once per item of a transaction (a deep copy
    of the whole table each time); with requests serialized, one backup per
    table per transaction is the same rollback at a fraction of the cost."""

    def __init__(self) -> None:
        self.cache: dict[int, object] | None = None

    def deepcopy(self, obj, memo=None):
        if self.cache is None:
            return copy.deepcopy(obj, memo)
        key = id(obj)
        if key not in self.cache:
            self.cache[key] = copy.deepcopy(obj)
        return self.cache[key]

    def __getattr__(self, name):
        return getattr(copy, name)


def _patch_transactions() -> None:
    import moto.dynamodb.models as models

    shim = _OncePerTransaction()
    models.copy = shim
    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        shim.cache = {}
        try:
            return original(self, transact_items)
        finally:
            shim.cache = None

    models.DynamoDBBackend.transact_write_items = transact_write_items


class _ExpiringIterators(collections.OrderedDict):
    """DynamoDB Streams shard iterators, dropped 15 minutes after they were
    handed out as on AWS. moto keeps every iterator forever (about 2 KB
    each); a stream poller takes a few per second, so a long `make dev`
    would grow by tens of MB an hour. An expired or unknown iterator is
    `ExpiredIteratorException`, as on AWS, not a 500."""

    LIFETIME_SECONDS = 15 * 60

    def __setitem__(self, key, value) -> None:
        now = time.monotonic()
        super().__setitem__(key, (now, value))
        self.move_to_end(key)
        while self:
            oldest = next(iter(self))
            if now - super().__getitem__(oldest)[0] <= self.LIFETIME_SECONDS:
                break
            del self[oldest]

    def __getitem__(self, key):
        if key not in self:
            from moto.core.exceptions import JsonRESTError

            raise JsonRESTError("ExpiredIteratorException", "Iterator expired")
        return super().__getitem__(key)[1]


def _patch_stream_iterators() -> None:
    import moto.dynamodbstreams.models as streams

    original = streams.DynamoDBStreamsBackend.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.shard_iterators = _ExpiringIterators()

    streams.DynamoDBStreamsBackend.__init__ = __init__


def _stop_instance_tracking() -> None:
    """moto keeps every model instance it ever made (every item version,
    stream record and shard iterator) in a list for its dashboard's
    `/moto-api/data.json`, which serialises them all: memory that only
    grows, and a call whose cost grows with everything done so far (under
    the one lock, everyone waits for it). Nothing else reads that list;
    the e-mails sent are served by `SENT_EMAIL_PATH` instead."""
    from moto.core.common_models import BaseModel

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    BaseModel.__new__ = __new__


SENT_EMAIL_PATH = "/_liaison/sent-email"


def _sent_email() -> bytes:
    """Every e-mail SES accepted, in data.json's shape (`ses.Message[]`,
    `ses.RawMessage[]`), read from the SES backends themselves: the cost is
    the e-mails', not the whole state's."""
    import json

    from moto.ses.models import Message, RawMessage, ses_backends

    out: dict[str, list] = {"Message": [], "RawMessage": []}
    for regions in list(ses_backends.values()):
        for backend in list(regions.values()):
            for m in backend.sent_messages:
                if isinstance(m, RawMessage):
                    out["RawMessage"].append(
                        {"id": m.id, "source": m.source, "destinations": m.destinations, "raw_data": m.raw_data}
                    )
                elif isinstance(m, Message):
                    out["Message"].append(
                        {
                            "id": m.id,
                            "source": m.source,
                            "subject": m.subject,
                            "body": m.body,
                            "destinations": m.destinations,
                        }
                    )
    return json.dumps({"ses": out}).encode()


def main() -> None:
    _patch_transactions()
    _patch_stream_iterators()
    _stop_instance_tracking()
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialized(environ, start_response):
        with lock:
            if environ.get("PATH_INFO") == SENT_EMAIL_PATH:
                body = _sent_email()
                start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
                return [body]
            # Materialise the body inside the lock: moto does its work lazily
            # for some responses.
            return list(app(environ, start_response))

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run_simple(host, port, serialized, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
