"""Thread limits: ``num_threads`` overrides the count for the calling thread only,
``set_num_threads`` is process-wide, and bad counts give the documented errors."""
import threading

import numpy as np
import pytest

from helpers import fast_module

csoftmax = fast_module()

needs_openmp = pytest.mark.skipif(not csoftmax.openmp_available(), reason="built without OpenMP")


@pytest.fixture
def process_count():
    before = csoftmax.get_num_threads()
    csoftmax.set_num_threads(2)
    yield 2
    csoftmax.set_num_threads(before)


@pytest.mark.parametrize("bad", [0, -1, 4097, 10**9, 2**31, 2**63, 10**30])
def test_counts_out_of_range_are_value_errors(bad):
    before = csoftmax.get_num_threads()
    with pytest.raises(ValueError, match="number of threads must be between 1 and 4096"):
        csoftmax.set_num_threads(bad)
    with pytest.raises(ValueError, match="number of threads must be between 1 and 4096"):
        with csoftmax.num_threads(bad):
            pytest.fail("the block ran")   # pragma: no cover
    assert csoftmax.get_num_threads() == before


@pytest.mark.parametrize("bad", [2.0, "2", None, True])
def test_counts_of_other_types_are_type_errors(bad):
    with pytest.raises(TypeError, match="number of threads must be an int"):
        csoftmax.set_num_threads(bad)
    with pytest.raises(TypeError, match="number of threads must be an int"):
        with csoftmax.num_threads(bad):
            pass


@needs_openmp
def test_largest_count_is_accepted(process_count):
    csoftmax.set_num_threads(4096)
    assert csoftmax.get_num_threads() == 4096
    with csoftmax.num_threads(4096):
        assert csoftmax.get_num_threads() == 4096
    # a call still uses at most one thread per 65536 elements
    np.testing.assert_array_equal(csoftmax.softmax(np.zeros((2, 3))), np.full((2, 3), 1 / 3))


@needs_openmp
def test_overrides_are_per_thread(process_count):
    """Two threads inside their own blocks see only their own count, and leaving a block
    restores only that thread's (the old process-wide context manager failed all of these)."""
    barrier = threading.Barrier(2, timeout=30)
    seen, errors = {}, []

    def worker(n, leave_first):
        try:
            with csoftmax.num_threads(n):
                barrier.wait()                      # both blocks entered
                seen[n, "inside"] = csoftmax.get_num_threads()
                barrier.wait()
                if not leave_first:
                    barrier.wait()                  # the other thread has left its block
                    seen[n, "after other left"] = csoftmax.get_num_threads()
            seen[n, "after"] = csoftmax.get_num_threads()
            if leave_first:
                barrier.wait()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(1, True)),
               threading.Thread(target=worker, args=(3, False))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert seen == {(1, "inside"): 1, (3, "inside"): 3, (3, "after other left"): 3,
                    (1, "after"): process_count, (3, "after"): process_count}
    assert csoftmax.get_num_threads() == process_count


@needs_openmp
def test_set_num_threads_is_process_wide_but_blocks_keep_their_count(process_count):
    inside, outside = [], []
    entered, changed = threading.Event(), threading.Event()

    def in_block():
        with csoftmax.num_threads(1):
            entered.set()
            changed.wait(30)
            inside.append(csoftmax.get_num_threads())
        outside.append(csoftmax.get_num_threads())

    t = threading.Thread(target=in_block)
    t.start()
    entered.wait(30)
    csoftmax.set_num_threads(3)                    # from another thread
    changed.set()
    t.join()
    assert inside == [1] and outside == [3]        # the block kept 1; after it, the new setting
    assert csoftmax.get_num_threads() == 3


@needs_openmp
def test_blocks_nest_and_restore_on_error(process_count):
    with csoftmax.num_threads(3):
        with pytest.raises(RuntimeError):
            with csoftmax.num_threads(1):
                assert csoftmax.get_num_threads() == 1
                raise RuntimeError
        assert csoftmax.get_num_threads() == 3
    assert csoftmax.get_num_threads() == process_count


@needs_openmp
def test_threadpoolctl_sets_the_process_count(process_count):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with csoftmax.num_threads(3):
        with threadpoolctl.threadpool_limits(limits=1, user_api="csoftmax"):
            assert csoftmax.get_num_threads() == 3          # this thread's block wins
            other = []
            t = threading.Thread(target=lambda: other.append(csoftmax.get_num_threads()))
            t.start()
            t.join()
            assert other == [1]
    assert csoftmax.get_num_threads() == process_count
