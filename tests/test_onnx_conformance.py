"""ONNX's own conformance cases (inputs, attributes and expected outputs
written by the ONNX authors) for the CNN ops, run through fastconv's public API
in layout NCHW (tests/onnx_cases.py says how each node is translated), and
through fastconv.reference, the oracle of the other tests.

    pytest tests/test_onnx_conformance.py -q -rs

Every two-dimensional case passes; the 1-D and 3-D forms of the spatial ops
are skipped by name as out of scope.  Needs the onnx package (the test
extra); without it the module is skipped."""
import numpy as np
import pytest

import fastconv
from fastconv import reference

pytest.importorskip("onnx")

import onnx_cases  # noqa: E402

CASES = onnx_cases.load_cases()


@pytest.mark.parametrize("lib", [fastconv, reference], ids=["fastconv", "reference"])
@pytest.mark.parametrize("name,op_type,attrs,inputs,outputs,rtol,atol", CASES,
                         ids=[c[0] for c in CASES])
def test_onnx_node_case(name, op_type, attrs, inputs, outputs, rtol, atol, lib):
    reason = onnx_cases.out_of_scope(name, op_type)
    if reason:
        assert inputs[0].ndim != 4, f"{name} is 2-D but skipped"
        pytest.skip(reason)
    got = onnx_cases.run(lib, op_type, attrs, inputs, len(outputs))
    assert len(got) == len(outputs)
    for g, want in zip(got, outputs):
        g = np.asarray(g)
        assert g.shape == want.shape, (g.shape, want.shape)
        if want.dtype.kind in "iu":
            # integer inputs are computed as float64 (fastconv's dtype rule):
            # the values must still be the exact integers
            np.testing.assert_array_equal(g, want.astype(g.dtype))
        else:
            assert g.dtype == want.dtype, (g.dtype, want.dtype)
            np.testing.assert_allclose(g, want, rtol=rtol, atol=atol)


def test_the_collection_has_two_dimensional_cases_of_every_op():
    counts = {op: 0 for op in onnx_cases.OPS}
    for name, op_type, *_ in CASES:
        if not onnx_cases.out_of_scope(name, op_type):
            counts[op_type] += 1
    assert all(counts.values()), counts
