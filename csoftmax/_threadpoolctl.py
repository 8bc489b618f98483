"""threadpoolctl support: ``threadpool_limits(n)`` (or ``user_api="csoftmax"``) limits csoftmax's
threads like those of BLAS and OpenMP libraries, and ``threadpool_info()`` lists csoftmax.

The controller finds the compiled extension among the loaded libraries and calls its exported
``csm_get_num_threads`` / ``csm_set_num_threads`` through ctypes. Registered at import when
threadpoolctl is installed (it is optional).
"""
import ctypes

try:
    from threadpoolctl import LibController, register  # type: ignore[import-untyped]
except ImportError:  # threadpoolctl not installed: nothing to register
    LibController = register = None

if LibController is not None:

    class CSoftmaxController(LibController):
        user_api = "csoftmax"
        internal_api = "csoftmax"
        filename_prefixes = ("_core",)
        check_symbols = ("csm_set_num_threads", "csm_get_num_threads")

        def get_num_threads(self):
            return self.dynlib.csm_get_num_threads()

        def set_num_threads(self, num_threads):
            # clamped as OpenBLAS's and OpenMP's controllers do: threadpoolctl does not expect errors
            from ._threads import MAX_THREADS
            n = min(max(int(num_threads), 1), MAX_THREADS)
            self.dynlib.csm_set_num_threads(ctypes.c_int(n))

        def get_version(self):
            from . import __version__
            return __version__

        def set_additional_attributes(self):
            from . import get_isa
            self.isa = get_isa()

    register(CSoftmaxController)
