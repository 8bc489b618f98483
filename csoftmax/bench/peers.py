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

import functools
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

import csoftmax

#: Operations in table order.  ``cross_entropy`` means loss + gradient.
OPS = ("softmax", "log_softmax", "logsumexp", "cross_entropy")

#: Names of the peers in column order (csoftmax first: it is the subject).
PEER_ORDER = ("csoftmax", "numpy", "scipy", "torch", "onnxruntime")


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


def load_peers(threads: int = 1, only: Optional[List[str]] = None) -> Tuple[List[Peer], Dict[str, str]]:
    """Instantiate every importable peer; return (peers, {missing: reason})."""
    factories = {
        "csoftmax": lambda: ApiPeer("csoftmax", "csoftmax", csoftmax, csoftmax.__version__),
        "numpy": lambda: ApiPeer("numpy", "NumPy reference (csoftmax.reference)", csoftmax.reference, np.__version__),
        "scipy": ScipyPeer,
        "torch": lambda: TorchPeer(threads),
        "onnxruntime": lambda: OrtPeer(threads),
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
