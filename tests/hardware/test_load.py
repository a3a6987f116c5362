import pytest
import yaml

from tasder_plugin.hardware import HW_DIR, HardwareSpec, hardware_names, load_hardware
from tasder_plugin.tasd import NMPattern

PRESETS = ["dense", "2of4", "vegeta", "flex8", "s2ta", "dstc"]


def test_every_preset_loads_and_every_energy_has_a_source():
    assert set(PRESETS) <= set(hardware_names())
    for name in PRESETS:
        hw = load_hardware(name)
        assert isinstance(hw, HardwareSpec) and hw.name == name
        energies = [
            hw.energy.mac_j,
            hw.energy.gated_mac_j,
            hw.dram.j_per_bit,
            hw.selector.comparator_j,
        ]
        energies += [e for b in hw.buffers for e in (b.read_j_per_byte, b.write_j_per_byte)]
        assert all(e.source.strip() and e.value_j > 0 for e in energies)


def test_presets_match_the_table():
    assert load_hardware("2of4").sparsity.weights == (NMPattern(2, 4),)
    assert NMPattern(1, 8) in load_hardware("flex8").sparsity.weights
    assert load_hardware("s2ta").sparsity.dual and load_hardware("dstc").sparsity.dual
    assert load_hardware("dense").sparsity.weights == ()


def test_unknown_name_lists_valid_ones_with_a_suggestion():
    with pytest.raises(ValueError, match=r"unknown hardware '2of5'.*did you mean '2of4'.*valid:"):
        load_hardware("2of5")


def _write(tmp_path, mutate):
    data = yaml.safe_load((HW_DIR / "vegeta.yaml").read_text())
    mutate(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["array"].update(colz=3), r"unknown key array\.colz; did you mean 'cols'"),
        (lambda d: d["array"].update(dataflow="rs"), r"array: dataflow must be one of"),
        (lambda d: d["array"].update(rows="many"), r"array\.rows: expected an integer"),
        (
            lambda d: d["sparsity"].update(weights=["2of4"]),
            r"weights\[0\]: invalid N:M pattern '2of4'",
        ),
        (lambda d: d["energy"]["mac_j"].update(source=""), r"energy\.mac_j: .*source"),
        (lambda d: d.pop("dram"), r"missing key dram"),
        (lambda d: d["buffers"][0].update(holds=["psums"]), r"holds must list"),
    ],
)
def test_bad_field_is_named_in_a_one_line_error(tmp_path, mutate, message):
    with pytest.raises(ValueError, match=message) as err:
        load_hardware(_write(tmp_path, mutate))
    assert "\n" not in str(err.value) and "bad.yaml" in str(err.value)


def test_missing_file():
    with pytest.raises(ValueError, match="does not exist"):
        load_hardware("nowhere/hw.yaml")
