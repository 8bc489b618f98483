"""The implementations ``csoftmax.bench`` compares: csoftmax and its peers.

Every peer turns a :class:`Case` (operation, input, axis, optional
preallocated output, labels) into a zero-argument callable that the timer
calls in a loop, plus a converter that turns the call's return value into
NumPy arrays for the correctness check.  Conversions (``torch.from_numpy``,
ONNX session and I/O binding set-up) happen in ``prepare``, outside the timed
call, so each peer is timed on its own call path and nothing else.

A peer that is not importable is reported as missing, never an error: the
benchmark must run with NumPy alone.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import threading
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

import csoftmax

#: Operations in table order.  ``cross_entropy`` means loss + gradient.
OPS = ("softmax", "log_softmax", "logsumexp", "cross_entropy")

#: Names of the peers in column order (csoftmax first: it is the subject).
PEER_ORDER = ("csoftmax", "numpy", "scipy", "torch", "onnxruntime", "onednn", "jax")


@dataclass
class Case:
    """One thing to compute: ``op`` on ``x`` along ``axis``."""

    op: str
    x: np.ndarray
    axis: int = -1
    out: Optional[np.ndarray] = None  # preallocated result buffer, if used
    target: Optional[np.ndarray] = None  # int64 class labels (cross_entropy)


def _identity(result: object) -> object:
    return result


@dataclass
class Prepared:
    """A ready-to-time call and how to read its result back as NumPy."""

    call: Callable[[], object]
    to_numpy: Callable[[object], object] = _identity


class Peer:
    """Base class: ``prepare`` returns None for an unsupported case."""

    name = "?"
    label = "?"
    version = "?"
    note = ""  # how its threads were set, if that needs saying (report header)
    supports_out = False

    def prepare(self, case: Case) -> Optional[Prepared]:  # pragma: no cover
        raise NotImplementedError

    def whole_calls(self, x: np.ndarray, out: np.ndarray) -> List[Tuple[str, Callable[[], object]]]:
        """softmax from a NumPy array to a NumPy array, conversions included.

        Used on a tiny input, where per-call overhead is the whole cost.
        """
        prepared = self.prepare(Case("softmax", x))
        if prepared is None:
            return []
        call, to_numpy = prepared.call, prepared.to_numpy
        return [(f"{self.name}: softmax(x)", lambda: to_numpy(call()))]


class ApiPeer(Peer):
    """Any module with csoftmax's API: csoftmax itself and csoftmax.reference."""

    supports_out = True

    def __init__(self, name: str, label: str, module, version: str) -> None:
        self.name, self.label, self.module, self.version = name, label, module, version

    def prepare(self, case: Case) -> Optional[Prepared]:
        fn = getattr(self.module, case.op)
        if case.op == "cross_entropy":
            return Prepared(functools.partial(fn, case.x, case.target, axis=case.axis, return_grad=True))
        # functools.partial keeps the timed call as close to a bare call as
        # Python allows (no extra Python frame, unlike a lambda).
        if case.out is not None:
            return Prepared(functools.partial(fn, case.x, case.axis, out=case.out))
        return Prepared(functools.partial(fn, case.x, case.axis))

    def whole_calls(self, x: np.ndarray, out: np.ndarray) -> List[Tuple[str, Callable[[], object]]]:
        fn = self.module.softmax
        return [
            (f"{self.name}: softmax(x)", functools.partial(fn, x)),
            (f"{self.name}: softmax(x, out=o)", functools.partial(fn, x, out=out)),
        ]


class ScipyPeer(Peer):
    """``scipy.special.softmax / log_softmax / logsumexp`` (no ``out=``)."""

    name, label = "scipy", "SciPy scipy.special"

    def __init__(self) -> None:
        import scipy
        import scipy.special as sp

        self.version = scipy.__version__
        self.fns = {"softmax": sp.softmax, "log_softmax": sp.log_softmax, "logsumexp": sp.logsumexp}

    def prepare(self, case: Case) -> Optional[Prepared]:
        fn = self.fns.get(case.op)
        return None if fn is None else Prepared(functools.partial(fn, case.x, axis=case.axis))


class TorchPeer(Peer):
    """PyTorch on CPU through ``torch.from_numpy`` (zero-copy views)."""

    name, label = "torch", "PyTorch"
    supports_out = True

    def __init__(self, threads: int) -> None:
        import torch
        import torch.nn.functional as F

        # One thread unless asked: torch otherwise grabs every core, which
        # would compare a parallel peer with a single-threaded csoftmax.
        torch.set_num_threads(threads)
        self.torch, self.F, self.version = torch, F, torch.__version__.split("+")[0]

    def prepare(self, case: Case) -> Optional[Prepared]:
        torch = self.torch
        t = torch.from_numpy(case.x)
        if case.op == "cross_entropy":
            return self._cross_entropy(t, case)
        fn = {"softmax": torch.softmax, "log_softmax": torch.log_softmax, "logsumexp": torch.logsumexp}[case.op]
        to_numpy = lambda r: r.numpy()  # noqa: E731 - a view, not a copy
        if case.out is not None:
            # The tensor shares case.out's memory, so results land in it.
            return Prepared(functools.partial(fn, t, case.axis, out=torch.from_numpy(case.out)), to_numpy)
        return Prepared(functools.partial(fn, t, case.axis), to_numpy)

    def whole_calls(self, x: np.ndarray, out: np.ndarray) -> List[Tuple[str, Callable[[], object]]]:
        torch = self.torch
        return [("torch: softmax(from_numpy(x)).numpy()", lambda: torch.softmax(torch.from_numpy(x), -1).numpy())]

    def _cross_entropy(self, t, case: Case) -> Optional[Prepared]:
        """Forward + backward, the way a training step gets the gradient."""
        if case.axis not in (-1, case.x.ndim - 1) or case.x.ndim != 2:
            return None  # F.cross_entropy wants classes on dim 1 of (N, C)
        t = t.clone().requires_grad_(True)  # autograd needs a leaf it owns
        target = self.torch.from_numpy(case.target)
        F = self.F

        def call():
            t.grad = None
            loss = F.cross_entropy(t, target)
            loss.backward()
            return loss, t.grad

        return Prepared(call, lambda r: (r[0].detach().numpy(), r[1].numpy()))


class OrtPeer(Peer):
    """ONNX Runtime with a one-node model per (op, dtype, axis, ndim)."""

    name, label = "onnxruntime", "ONNX Runtime"
    supports_out = True
    _OPSET = 13

    def __init__(self, threads: int) -> None:
        import onnx  # noqa: F401 - needed to build the models
        import onnxruntime as ort

        self.ort, self.threads, self.version = ort, threads, ort.__version__
        self._sessions: Dict[tuple, object] = {}

    def _session(self, op: str, dtype: np.dtype, axis: int, ndim: int):
        key = (op, dtype.str, axis, ndim)
        if key not in self._sessions:
            self._sessions[key] = self._build(op, dtype, axis, ndim)
        return self._sessions[key]

    def _build(self, op: str, dtype: np.dtype, axis: int, ndim: int):
        from onnx import TensorProto, helper

        elem = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE}[dtype]
        dims = [f"d{i}" for i in range(ndim)]  # symbolic: one model serves every shape
        if op == "logsumexp":
            node = helper.make_node("ReduceLogSumExp", ["x"], ["y"], axes=[axis], keepdims=0)
            out_dims = [d for i, d in enumerate(dims) if i != axis % ndim]
        else:
            kind = {"softmax": "Softmax", "log_softmax": "LogSoftmax"}[op]
            node = helper.make_node(kind, ["x"], ["y"], axis=axis)
            out_dims = dims
        graph = helper.make_graph(
            [node],
            "csoftmax_bench",
            [helper.make_tensor_value_info("x", elem, dims)],
            [helper.make_tensor_value_info("y", elem, out_dims)],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self._OPSET)])
        model.ir_version = 7  # the oldest IR for opset 13: loads in any ORT that has it
        so = self.ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1
        so.execution_mode = self.ort.ExecutionMode.ORT_SEQUENTIAL  # single-threaded executor
        so.log_severity_level = 3  # errors only: no chatter in the report
        return self.ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])

    def prepare(self, case: Case) -> Optional[Prepared]:
        if case.op == "cross_entropy" or case.x.dtype not in (np.float32, np.float64):
            return None
        sess = self._session(case.op, case.x.dtype, case.axis, case.x.ndim)
        if case.out is None:
            return Prepared(functools.partial(sess.run, None, {"x": case.x}), lambda r: r[0])
        # I/O binding writes straight into the preallocated buffer, the
        # ONNX Runtime equivalent of out=.
        binding = sess.io_binding()
        binding.bind_cpu_input("x", case.x)
        binding.bind_output("y", "cpu", 0, case.out.dtype, list(case.out.shape), case.out.ctypes.data)
        out = case.out

        def call():
            sess.run_with_iobinding(binding)
            return out

        return Prepared(call)


class _DnnlVersion(ctypes.Structure):
    _fields_ = [("major", ctypes.c_int), ("minor", ctypes.c_int), ("patch", ctypes.c_int),
                ("hash", ctypes.c_char_p), ("cpu_runtime", ctypes.c_uint),
                ("gpu_runtime", ctypes.c_uint)]


class _DnnlArg(ctypes.Structure):  # dnnl_exec_arg_t
    _fields_ = [("arg", ctypes.c_int), ("memory", ctypes.c_void_p)]


class OneDnnPeer(Peer):
    """oneDNN (Intel's CPU kernel library) through ctypes on the ``onednn-cpu-gomp`` wheel's
    ``libdnnl.so.3``: one softmax primitive per case, float32 only (its CPU softmax has no
    float64).  The constants are those of oneDNN 3's ``dnnl_types.h``."""

    name, label = "onednn", "oneDNN"
    supports_out = True
    _CPU, _STREAM_IN_ORDER, _F32, _FORWARD_INFERENCE = 1, 1, 3, 96
    _ALG = {"softmax": 0x30000, "log_softmax": 0x30001}  # dnnl_softmax_accurate, _log
    _ARG_SRC, _ARG_DST, _MAX_NDIMS = 1, 17, 12

    def __init__(self, threads: int) -> None:
        import sys

        path = os.path.join(sys.prefix, "lib", "libdnnl.so.3")
        if not os.path.exists(path):
            raise ImportError("libdnnl.so.3 (pip install onednn-cpu-gomp)", name="onednn-cpu-gomp")
        lib = self.lib = ctypes.CDLL(path)
        lib.dnnl_version.restype = ctypes.POINTER(_DnnlVersion)
        v = lib.dnnl_version().contents
        self.version = f"{v.major}.{v.minor}.{v.patch}"
        lib.dnnl_primitive_execute.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                               ctypes.c_void_p]
        lib.dnnl_stream_wait.argtypes = [ctypes.c_void_p]
        lib.dnnl_memory_set_data_handle.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        # its OpenMP runtime is the process's libgomp: the calling thread's thread count
        ctypes.CDLL("libgomp.so.1").omp_set_num_threads(threads)
        self.note = f"OpenMP threads {threads} (omp_set_num_threads)"
        self.engine, self.stream = ctypes.c_void_p(), ctypes.c_void_p()
        self._check(lib.dnnl_engine_create(ctypes.byref(self.engine), self._CPU, 0))
        self._check(lib.dnnl_stream_create(ctypes.byref(self.stream), self.engine,
                                           self._STREAM_IN_ORDER))

    @staticmethod
    def _check(status: int) -> None:
        if status != 0:
            raise RuntimeError(f"oneDNN call failed with status {status}")

    def _memory(self, md, array: np.ndarray):
        mem = ctypes.c_void_p()
        self._check(self.lib.dnnl_memory_create(ctypes.byref(mem), md, self.engine,
                                                ctypes.c_void_p(array.ctypes.data)))
        return mem

    def prepare(self, case: Case) -> Optional[Prepared]:
        if case.op not in self._ALG or case.x.dtype != np.float32:
            return None
        lib, x = self.lib, case.x
        dims_t = ctypes.c_int64 * self._MAX_NDIMS
        md = ctypes.c_void_p()
        self._check(lib.dnnl_memory_desc_create_with_strides(
            ctypes.byref(md), x.ndim, dims_t(*x.shape), self._F32,
            dims_t(*(st // x.itemsize for st in x.strides))))
        pd, prim = ctypes.c_void_p(), ctypes.c_void_p()
        self._check(lib.dnnl_softmax_forward_primitive_desc_create(
            ctypes.byref(pd), self.engine, self._FORWARD_INFERENCE, self._ALG[case.op], md, md,
            case.axis % x.ndim, None))
        self._check(lib.dnnl_primitive_create(ctypes.byref(prim), pd))
        dst = case.out if case.out is not None else np.empty_like(x)
        src_mem, dst_mem = self._memory(md, x), self._memory(md, dst)
        args = (_DnnlArg * 2)(_DnnlArg(self._ARG_SRC, src_mem), _DnnlArg(self._ARG_DST, dst_mem))
        execute, wait, stream = lib.dnnl_primitive_execute, lib.dnnl_stream_wait, self.stream
        keep = (md, pd, src_mem, x)  # alive as long as the call (a default argument)

        if case.out is not None:
            def call(keep=keep):
                execute(prim, stream, 2, args)
                wait(stream)
                return dst

            return Prepared(call)

        set_handle = lib.dnnl_memory_set_data_handle

        def call_new(keep=keep):  # a new result array per call, as the other peers return
            out = np.empty(x.shape, np.float32)
            set_handle(dst_mem, out.ctypes.data)
            execute(prim, stream, 2, args)
            wait(stream)
            return out

        return Prepared(call_new)


@contextlib.contextmanager
def _cpus_for_new_threads(threads: int):
    """Let threads started inside the block see only ``threads`` CPUs; yield how many they see.

    For a runtime that sizes its thread pool by the CPUs it may use and has no
    setting for it (XLA's CPU client).  Afterwards the calling thread and every
    thread started meanwhile may run on every allowed CPU again: the pool keeps
    its size but is pinned to no core (pinned, it would share one core with
    whatever else runs there).  Linux only; elsewhere nothing is limited
    (yields None).
    """
    try:
        allowed = os.sched_getaffinity(0)
    except AttributeError:  # not Linux
        yield None
        return
    if threads >= len(allowed):
        yield len(allowed)  # no fewer CPUs to ask for
        return
    tasks = "/proc/self/task"
    before = set(os.listdir(tasks))
    os.sched_setaffinity(0, sorted(allowed)[:threads])  # the calling thread; new threads inherit it
    try:
        yield threads
    finally:
        for tid in (set(os.listdir(tasks)) - before) | {str(threading.get_native_id())}:
            try:
                os.sched_setaffinity(int(tid), allowed)
            except OSError:  # the thread has ended
                pass


class JaxPeer(Peer):
    """JAX on the CPU: ``jax.nn`` / ``jax.scipy.special`` under ``jax.jit``.

    Each function is compiled in ``prepare`` (the first call compiles; jit
    keeps one executable per shape and dtype).  The input is put on the CPU
    device there too, as ``torch.from_numpy`` is for PyTorch; the timed call
    includes ``block_until_ready()``, since JAX returns before the result is
    computed.  The result reaches NumPy through ``np.asarray`` (no copy).
    """

    name, label = "jax", "JAX"

    def __init__(self, threads: int) -> None:
        # XLA's CPU client sizes its thread pool by the CPUs the process may
        # use when the client starts, and has no setting for it: XLA_FLAGS
        # "--xla_cpu_multi_thread_eigen=false" only concerns Eigen's dot and
        # convolution kernels, and "intra_op_parallelism_threads=1" is no XLA
        # flag (ignored after a "--" flag, fatal alone).  So jax is imported,
        # and its CPU client started, here, while this thread's CPU affinity
        # is narrowed to `threads` CPUs.
        with _cpus_for_new_threads(threads) as cpus:
            import jax
            import jax.numpy as jnp
            import jax.scipy.special

            started_before = _jax_started()
            if not started_before:
                jax.config.update("jax_platforms", "cpu")  # no accelerator client, even if one is installed
                # Run each computation on the calling thread, as every other
                # peer does.  By default the client hands it to a worker thread
                # and the caller sleeps until it is done: no overlap when every
                # call waits for its result, only a cross-thread wake-up per
                # call (64x1000 softmax, 1 thread: ~27 µs inline, 35-90 µs
                # handed over, varying with the cores the two threads land on).
                jax.config.update("jax_cpu_enable_async_dispatch", False)
            self.device = jax.devices("cpu")[0]  # starts the CPU client
        # float64 inputs stay float64 (JAX makes them float32 by default).
        jax.config.update("jax_enable_x64", True)
        self.jax, self.jnp, self.version = jax, jnp, jax.__version__
        self.fns = {
            "softmax": jax.nn.softmax,
            "log_softmax": jax.nn.log_softmax,
            "logsumexp": jax.scipy.special.logsumexp,
        }
        self._jitted: Dict[tuple, Callable] = {}
        if started_before:
            self.note = "CPU; threads not set: JAX had started its CPU client before"
        elif cpus is None:
            self.note = "CPU; threads not set (no CPU affinity on this platform)"
        else:
            self.note = (
                f"CPU, synchronous dispatch; XLA thread pool sized for {cpus} CPU(s) by the CPU affinity"
                " its client started with"
            )

    def _jit(self, op: str, axis: int) -> Callable:
        key = (op, axis)
        if key not in self._jitted:
            jax, jnp = self.jax, self.jnp
            if op == "cross_entropy":

                # logsumexp - the label's logit, as optax's
                # softmax_cross_entropy_with_integer_labels computes it: about
                # 2x faster here (loss + gradient) than picking from
                # log_softmax, and 2-6x faster than a one-hot product.
                def mean_nll(x, target):
                    picked = jnp.take_along_axis(x, target[:, None], axis=-1)[:, 0]
                    return jnp.mean(jax.scipy.special.logsumexp(x, axis=-1) - picked)

                self._jitted[key] = jax.jit(jax.value_and_grad(mean_nll))
            else:
                self._jitted[key] = jax.jit(functools.partial(self.fns[op], axis=axis))
        return self._jitted[key]

    def prepare(self, case: Case) -> Optional[Prepared]:
        if case.x.dtype not in (np.float32, np.float64):
            return None
        if case.op == "cross_entropy" and (case.axis not in (-1, case.x.ndim - 1) or case.x.ndim != 2):
            return None  # (N, C) logits, classes last, as for PyTorch
        put = functools.partial(self.jax.device_put, device=self.device)
        fn = self._jit(case.op, case.axis)
        if case.op == "cross_entropy":
            args = (put(case.x), put(case.target))
            call = functools.partial(_jax_call_pair, fn, *args)
            to_numpy = _jax_pair_to_numpy
        else:
            args = (put(case.x),)
            call = functools.partial(_jax_call, fn, *args)
            to_numpy = np.asarray
        call()  # compiles for this shape, dtype and axis (not timed)
        return Prepared(call, to_numpy)

    def whole_calls(self, x: np.ndarray, out: np.ndarray) -> List[Tuple[str, Callable[[], object]]]:
        fn = self._jit("softmax", -1)
        fn(x).block_until_ready()  # compile
        return [("jax: np.asarray(softmax(x))", lambda: np.asarray(fn(x)))]


def _jax_started() -> bool:
    """Whether JAX's backends were started before (then its pool is sized already)."""
    try:
        from jax._src.xla_bridge import backends_are_initialized  # no public equivalent
    except ImportError:  # moved in another JAX version: assume not
        return False
    return backends_are_initialized()


def _jax_call(fn, *args):
    return fn(*args).block_until_ready()


def _jax_call_pair(fn, *args):
    loss, grad = fn(*args)
    loss.block_until_ready()
    return loss, grad.block_until_ready()


def _jax_pair_to_numpy(result):
    return tuple(np.asarray(r) for r in result)


def load_peers(threads: int = 1, only: Optional[List[str]] = None) -> Tuple[List[Peer], Dict[str, str]]:
    """Instantiate every importable peer; return (peers, {missing: reason})."""
    factories = {
        "csoftmax": lambda: ApiPeer("csoftmax", "csoftmax", csoftmax, csoftmax.__version__),
        "numpy": lambda: ApiPeer("numpy", "NumPy reference (csoftmax.reference)", csoftmax.reference, np.__version__),
        "scipy": ScipyPeer,
        "torch": lambda: TorchPeer(threads),
        "onnxruntime": lambda: OrtPeer(threads),
        "onednn": lambda: OneDnnPeer(threads),
        "jax": lambda: JaxPeer(threads),
    }
    peers: List[Peer] = []
    missing: Dict[str, str] = {}
    for name in PEER_ORDER:
        if only is not None and name not in only and name != "csoftmax":
            continue
        try:
            peers.append(factories[name]())
        except ImportError as exc:
            missing[name] = f"not installed (no module named {exc.name or exc!s})"
        except Exception as exc:  # broken install: report, do not crash
            missing[name] = f"unusable ({type(exc).__name__}: {exc})"
    return peers, missing
