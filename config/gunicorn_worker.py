"""gunicorn's threaded worker, made to share connections between processes.

gunicorn's ``gthread`` worker accepts every connection it can, whether or not it has a free
thread, and a keep-alive connection then stays with the process that accepted it. Browsers keep
their connection open between clicks, so which process serves a learner is settled by an
accept race when they arrive: under a burst one process can hold most of the class while the
others idle, and its requests queue behind one GIL (measured with ``bench/load.py``: one of three
processes at 72 % CPU, the other two at 8–18 %, page views p50 over 3 s).

This worker

- accepts new connections only while one of its threads is free, so a busy process leaves
  them to an idle one;
- when requests already wait for a thread, answers with "Connection: close" instead of keeping
  the connection alive: the client opens a new one, which an idle process accepts.

Hooks used: ``enqueue_req``, ``finish_request``, ``set_accept_enabled`` and the
``max_keepalived`` attribute of gunicorn 27's ThreadWorker (pinned in uv.lock;
``tests/test_gunicorn_worker.py`` shows the behaviour).
"""

from __future__ import annotations

from gunicorn.workers.gthread import ThreadWorker


class BalancedThreadWorker(ThreadWorker):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Requests handed to the thread pool and not finished. Changed on the main thread
        # only (gunicorn calls both hooks there); read by request threads.
        self.in_flight = 0

    def has_free_thread(self) -> bool:
        return self.in_flight < self.cfg.threads

    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled and self.has_free_thread())

    def enqueue_req(self, conn) -> None:
        self.in_flight += 1
        if not self.has_free_thread():
            self.set_accept_enabled(False)
        super().enqueue_req(conn)

    def finish_request(self, conn, fs) -> None:
        self.in_flight -= 1
        super().finish_request(conn, fs)
        if self.alive:
            self.set_accept_enabled(self.nr_conns < self.worker_connections)

    @property
    def max_keepalived(self) -> int:
        # gunicorn answers "Connection: close" when it keeps this many connections alive
        # already. While requests wait for a thread, every answer says so: the client opens a
        # new connection, which a process with a free thread accepts. (Closing the connection
        # without saying so would be worse: gunicorn then lingers up to 2 s on its main thread
        # for the client to close its end, accepting nothing meanwhile.)
        if self.in_flight > self.cfg.threads:
            return 0
        return self._max_keepalived

    @max_keepalived.setter
    def max_keepalived(self, value: int) -> None:
        self._max_keepalived = value
