"""Executors for scenario comparisons: in-process, local processes or Dask distributed.

:func:`make_executor` returns an object with ``map(fn, iterable)`` (results in input
order), ``submit(fn, *args)`` (a :class:`concurrent.futures.Future`), ``close()`` and
context-manager support:

* ``workers=1`` — :class:`SerialExecutor`, runs in this process;
* ``workers=K>1`` — :class:`concurrent.futures.ProcessPoolExecutor` of K processes;
* ``scheduler="tcp://host:8786"`` — a Dask ``Client`` on an existing cluster;
* ``dask_local=K`` — a Dask ``LocalCluster(n_workers=K, threads_per_worker=1, processes=True)``.

Dask ``map`` is ``client.map(fn, items, pure=False)`` + ``client.gather`` (order kept).
Workers import gridsim from the installed package, so they load the compiled kernels
from the Numba cache (``NUMBA_CACHE_DIR``); :class:`DaskExecutor` warms each worker
up once with ``client.run(_warm_up)``. Tasks depend only on their arguments, so the
results are the same whatever the executor (see :func:`gridsim.scenarios.compare_strategies`).
"""
from __future__ import annotations

import concurrent.futures as cf
from typing import Any, Callable, Iterable

from gridsim.errors import GridsimError

__all__ = ["ExecutorError", "SerialExecutor", "ProcessExecutor", "DaskExecutor", "make_executor"]


class ExecutorError(GridsimError):
    """An executor could not be set up (Dask missing, scheduler unreachable, bad option)."""


def _warm_up() -> str:
    """Run once on every worker: import the kernels (loads them from the Numba cache)."""
    import gridsim.core  # noqa: F401
    import gridsim.core._kernels  # noqa: F401
    import gridsim.scenarios.compare  # noqa: F401
    import gridsim

    return getattr(gridsim, "__version__", "?")


def _ignore_sigint() -> None:        # process-pool initializer: Ctrl-C is the parent's business
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _Base:
    kind = "base"
    n_workers = 1

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:  # pragma: no cover - overridden
        pass

    def cancel_all(self) -> None:
        """Stop work still queued or running (after Ctrl-C)."""


class SerialExecutor(_Base):
    """Runs everything in this process, one task after another."""

    kind = "serial"

    def map(self, fn: Callable, iterable: Iterable) -> list:
        return [fn(x) for x in iterable]

    def submit(self, fn: Callable, *args, **kwargs) -> cf.Future:
        fut: cf.Future = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - KeyboardInterrupt must reach the caller
            if isinstance(e, KeyboardInterrupt):
                raise
            fut.set_exception(e)
        return fut


class ProcessExecutor(_Base):
    """A :class:`~concurrent.futures.ProcessPoolExecutor` of ``workers`` processes (ignoring SIGINT)."""

    kind = "processes"

    def __init__(self, workers: int):
        self.n_workers = int(workers)
        self.pool = cf.ProcessPoolExecutor(self.n_workers, initializer=_ignore_sigint)
        self._interrupted = False

    def map(self, fn: Callable, iterable: Iterable) -> list:
        return list(self.pool.map(fn, iterable))

    def submit(self, fn: Callable, *args, **kwargs) -> cf.Future:
        return self.pool.submit(fn, *args, **kwargs)

    def cancel_all(self) -> None:
        self._interrupted = True
        # the workers ignore SIGINT: stop the ones still busy
        for proc in list((getattr(self.pool, "_processes", None) or {}).values()):
            proc.terminate()

    def close(self) -> None:
        self.pool.shutdown(wait=not self._interrupted, cancel_futures=True)


class DaskExecutor(_Base):
    """Dask distributed: a ``Client`` on ``scheduler`` (an existing cluster) or on a new
    ``LocalCluster`` of ``dask_local`` single-threaded worker processes."""

    kind = "dask"

    def __init__(self, scheduler: str | None = None, dask_local: int | None = None, *, timeout: float = 10.0,
                 warm_up: bool = True):
        try:
            from distributed import Client, LocalCluster
        except ImportError as e:
            raise ExecutorError("Dask is not installed: pip install 'dask[distributed]'") from e
        self.cluster = None
        if scheduler is not None:
            try:
                self.client = Client(scheduler, timeout=timeout, set_as_default=False)
            except (OSError, TimeoutError) as e:
                raise ExecutorError(f"cannot reach the Dask scheduler at {scheduler} "
                                    f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'timeout'})") from None
            except ValueError as e:
                raise ExecutorError(f"--scheduler {scheduler}: {str(e).splitlines()[0]}") from None
        else:
            n = int(dask_local)
            # no dashboard; the scheduler's small HTTP server (health, metrics) binds a free port
            # (":0"): its default 8787 may be taken, and the fallback would only warn about it
            self.cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                        dashboard_address=":0", scheduler_kwargs={"dashboard": False})
            self.client = Client(self.cluster, set_as_default=False)
        self.n_workers = max(1, len(self.client.scheduler_info().get("workers", {})))
        self._cf = self.client.get_executor(pure=False)
        if warm_up:
            self.client.run(_warm_up)

    def map(self, fn: Callable, iterable: Iterable) -> list:
        items = list(iterable)
        futs = self.client.map(fn, items, pure=False)
        return self.client.gather(futs)

    def submit(self, fn: Callable, *args, **kwargs) -> cf.Future:
        return self._cf.submit(fn, *args, **kwargs)

    def cancel_all(self) -> None:
        try:
            self._cf.shutdown(wait=False)
        except Exception:  # noqa: BLE001
            pass

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            if self.cluster is not None:
                self.cluster.close()


def make_executor(workers: int = 1, scheduler: str | None = None, dask_local: int | None = None, *,
                  timeout: float = 10.0) -> Any:
    """Executor for ``workers`` local processes (1: in this process), or Dask when
    ``scheduler`` (address of an existing cluster) or ``dask_local`` (LocalCluster size) is given.
    ``timeout``: seconds to wait for the scheduler."""
    if scheduler is not None and dask_local is not None:
        raise ExecutorError("give either --scheduler or --dask-local, not both")
    if scheduler is not None:
        if not str(scheduler).strip():
            raise ExecutorError("--scheduler: give an address, e.g. tcp://host:8786")
        return DaskExecutor(scheduler=str(scheduler).strip(), timeout=timeout)
    if dask_local is not None:
        if int(dask_local) < 1:
            raise ExecutorError(f"--dask-local {dask_local}: give at least 1 worker")
        return DaskExecutor(dask_local=int(dask_local))
    if int(workers) < 1:
        raise ExecutorError(f"--workers {workers}: give at least 1 worker")
    return SerialExecutor() if int(workers) == 1 else ProcessExecutor(int(workers))
