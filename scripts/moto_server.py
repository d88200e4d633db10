"""moto server with one request at a time.

moto applies a DynamoDB transaction's condition checks and writes without
isolation from concurrent requests, where DynamoDB itself isolates them
(ConditionalCheckFailed / TransactionConflict). Our concurrency tests need
the real semantics, so every request is handled under one lock; the server
stays threaded so slow clients and keep-alive connections do not block it.

usage: python scripts/moto_server.py HOST PORT
"""

import signal
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def serialized(environ, start_response):
        with lock:
            # Materialise the body inside the lock: moto does its work lazily
            # for some responses.
            return list(app(environ, start_response))

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run_simple(host, port, serialized, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
