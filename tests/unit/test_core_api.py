"""Public API of the core: errors people can act on, immutability, reference forms."""
from __future__ import annotations

import numpy as np
import pandapower as pp
import pytest

import naive
from gridsim.core import State, compile_topology, find_affected, sweep_single_faults, sweep_storms
from gridsim.errors import GridsimError, ModelLoadError, StateError, UnknownElementError


def small_net():
    """Radial 4-bus MV feeder.

    ::

        ext_grid
           |
          b0 --L0-- b1 --L1-- b2
                     \\
                      L2-- b3      (sw0: CB on L0 at b0, sw1: LBS on L2 at b1)
    """
    net = pp.create_empty_network()
    b = [pp.create_bus(net, vn_kv=20.0) for _ in range(4)]
    pp.create_ext_grid(net, b[0])
    for f, t in [(0, 1), (1, 2), (1, 3)]:
        pp.create_line(net, b[f], b[t], length_km=1.0, std_type="NA2XS2Y 1x95 RM/25 12/20 kV")
    pp.create_switch(net, b[0], 0, et="l", type="CB")
    pp.create_switch(net, b[1], 2, et="l", type="LBS")
    return net


@pytest.fixture(scope="module")
def topo():
    return compile_topology(naive.model_from_net(small_net(), seed=1))


def test_unknown_element_names_it(topo):
    with pytest.raises(UnknownElementError, match=r"line 99999"):
        find_affected(topo, ["line:99999"])
    with pytest.raises(UnknownElementError, match=r"bus 77"):
        topo.element_positions(["bus:77"])


@pytest.mark.parametrize("ref", ["line", "foo:1", "line:x", "", "line:1:2", 3.5])
def test_malformed_references(topo, ref):
    with pytest.raises(UnknownElementError) as err:
        find_affected(topo, [ref])
    assert isinstance(err.value, GridsimError)
    if isinstance(ref, str) and ref:
        assert repr(ref) in str(err.value) or ref.split(":")[0] in str(err.value)


def test_position_out_of_range(topo):
    with pytest.raises(UnknownElementError):
        topo.element_positions([topo.n_elements])
    with pytest.raises(UnknownElementError):
        topo.element_positions([-1])


def test_empty_fault_list(topo):
    with pytest.raises(StateError):
        find_affected(topo, [])


def test_wrong_state_shape_and_type(topo):
    n = topo.switch_ids.shape[0]
    for bad in (np.ones(n + 1, bool), np.ones(n, np.int64), np.ones((n, 1), bool)):
        with pytest.raises(StateError):
            sweep_single_faults(topo, State(bad))
        with pytest.raises(StateError):
            find_affected(topo, ["line:1"], State(bad))
    with pytest.raises(StateError):
        find_affected(topo, ["line:1"], "not a state")


def test_unknown_switch_in_state(topo):
    with pytest.raises(UnknownElementError, match="switch 42"):
        topo.make_state(open=["switch:42"])
    with pytest.raises(UnknownElementError):
        topo.make_state(open=["line:1"])


def test_bad_storm_csr(topo):
    with pytest.raises(StateError):
        sweep_storms(topo, (np.array([1, 2]), np.array([0, 1])))
    with pytest.raises(StateError):
        sweep_storms(topo, (np.array([0, 1]), np.array([topo.n_elements])))


def test_topology_arrays_are_read_only(topo):
    arrays = {k: v for k, v in topo.__dict__.items() if isinstance(v, np.ndarray)}
    assert len(arrays) > 30
    for name, arr in arrays.items():
        assert not arr.flags.writeable, name
        if arr.size and arr.dtype != object:
            with pytest.raises(ValueError):
                arr.flat[0] = arr.flat[0]
    a = topo.analysis()
    with pytest.raises(ValueError):
        a.supplied[0] = False
    state = topo.make_state(open=[1])
    with pytest.raises(ValueError):
        state.switch_closed[0] = False


def test_topology_is_frozen(topo):
    with pytest.raises(AttributeError):
        topo.n_bus = 3


@pytest.mark.parametrize("table", ["impedance", "dcline"])
def test_unsupported_tables_refused(table):
    net = small_net()
    if table == "impedance":
        pp.create_impedance(net, 2, 3, rft_pu=0.01, xft_pu=0.01, sn_mva=1.0)
    else:
        pp.create_dcline(net, 2, 3, p_mw=1.0, loss_percent=0.0, loss_mw=0.0, vm_from_pu=1.0, vm_to_pu=1.0)
    with pytest.raises(ModelLoadError, match=table):
        compile_topology(naive.model_from_net(net))


def test_reference_forms_agree(topo):
    """"line:1", ("line", 1), " LINE / 1 " and the element position give the same element;
    a switch on a line stands for the line."""
    pos = topo.element_positions(["line:1"])[0]
    assert list(topo.element_positions([("line", 1), "LINE:1", pos])) == [pos, pos, pos]
    assert topo.element_positions(["switch:1"])[0] == topo.element_positions(["line:2"])[0]
    assert find_affected(topo, ["switch:1"]).customers == find_affected(topo, ["line:2"]).customers


def test_sweep_columns_and_in_service():
    net = small_net()
    net.line.loc[1, "in_service"] = False
    net.bus.loc[3, "in_service"] = False
    t = compile_topology(naive.model_from_net(net))
    df = sweep_single_faults(t)
    assert list(df.columns) == ["element_type", "element_id", "in_service", "buses_unsupplied",
                                "customers_unsupplied", "critical_unsupplied", "tripping_device",
                                "customers_interrupted"]
    isv = df.set_index(["element_type", "element_id"])["in_service"]
    assert not isv[("line", 1)] and not isv[("bus", 3)] and isv[("line", 0)] and isv[("bus", 2)]
    # an out-of-service element loses nobody
    assert df.set_index(["element_type", "element_id"]).loc[("line", 1), "buses_unsupplied"] == 0


def test_element_positions_batch_matches_single(bundled_model):
    """Many references take the batched lookup; it must agree with one-by-one
    lookups and still name an unknown element."""
    from gridsim.core import compile_topology
    from gridsim.errors import UnknownElementError

    topo = compile_topology(bundled_model("mv_oberrhein"))
    refs = [f"line:{i}" for i in topo.elem_offsets[next(iter(topo.elem_offsets))][1][:30]] + ["bus:58", ("trafo", 114), 5]
    batch = topo.element_positions(refs)
    single = [int(topo.element_positions([r])[0]) for r in refs]
    assert batch.tolist() == single
    with pytest.raises(UnknownElementError, match="line 99999"):
        topo.element_positions(refs + ["line:99999"])
