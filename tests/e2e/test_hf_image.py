"""HuggingFace image classifiers preprocess with their own image processor, offline.

A tiny ViT saved with a processor that normalises with mean/std 0.5 (as google/vit-* do) at
32 px: the harness must feed it exactly what the processor makes, not timm's ImageNet defaults.
"""

import pytest
import torch
from PIL import Image

from evaluation.run import evaluate
from tasder_plugin.data import image_transform
from tasder_plugin.models.adapters import ModelConfig, ModelLoadError, build_model
from tasder_plugin.models.preprocessing import data_config

from .test_evaluate import run_cli


@pytest.fixture(scope="module")
def vit_dir(tmp_path_factory):
    import transformers

    torch.manual_seed(0)
    config = transformers.ViTConfig(
        image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, num_labels=3,
    )  # fmt: skip
    path = tmp_path_factory.mktemp("vit")
    transformers.ViTForImageClassification(config).save_pretrained(path)
    transformers.ViTImageProcessor(
        size={"height": 32, "width": 32}, image_mean=[0.5] * 3, image_std=[0.5] * 3
    ).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """Three classes of two images each, of a size the processor must resize."""
    root = tmp_path_factory.mktemp("images")
    gen = torch.Generator().manual_seed(1)
    for label in range(3):
        (root / f"class{label}").mkdir()
        for i in range(2):
            pixels = torch.randint(0, 256, (40, 48, 3), generator=gen, dtype=torch.uint8)
            Image.fromarray(pixels.numpy()).save(root / f"class{label}" / f"{i}.png")
    return root


def vit_config(path) -> ModelConfig:
    return ModelConfig(
        name="tiny_vit", source="hf", architecture="unused/offline", checkpoint=str(path),
        task="image-classification", num_classes=3,
    )  # fmt: skip


def test_images_get_the_model_s_own_processor(vit_dir, images):
    config = vit_config(vit_dir)
    facts = data_config(config, build_model(config))
    transform = image_transform(facts)
    image = Image.open(next((images / "class0").iterdir()))
    pixels = transform(image)
    expected = facts["image_processor"](images=image, return_tensors="pt")["pixel_values"][0]
    assert pixels.shape == (3, 32, 32) and torch.equal(pixels, expected)
    # mean/std 0.5: black is exactly -1 (timm's ImageNet defaults: 224 px and -0.485/0.229)
    black = transform(Image.new("RGB", (48, 40)))
    assert torch.equal(black, torch.full((3, 32, 32), -1.0))
    timm_default = image_transform({})(Image.new("RGB", (48, 40)))
    assert timm_default.shape == (3, 224, 224) and timm_default[0, 0, 0] < -2


def test_a_directory_without_the_processor_is_one_clear_error(vit_dir, tmp_path):
    for name in ("config.json", "model.safetensors"):
        (tmp_path / name).write_bytes((vit_dir / name).read_bytes())
    config = vit_config(tmp_path)
    with pytest.raises(ModelLoadError, match="image_processor.save_pretrained"):
        data_config(config, build_model(config))


@pytest.mark.slow
def test_hf_image_classifier_end_to_end(make_cfg, vit_dir, images, tmp_path):
    overrides = [
        "model=vit_base_hf", f"model.checkpoint={vit_dir}", "model.num_classes=3",
        "model.input_size=[3,32,32]", "data=imagefolder", f"data.root={images}",
        "data.batch_size=4", "data.num_workers=0", "tasd=uniform", "tasd.weights=2:4",
    ]  # fmt: skip
    metrics, _ = evaluate(make_cfg(*overrides))
    assert metrics["dense_val/acc1"] is not None and metrics["val/agreement"] <= 1.0
    assert metrics["hw/edp_reduction"] > 0

    offline = run_cli("model=vit_base_hf", "data=imagefolder", f"data.root={images}",
                      tmp_path=tmp_path)  # fmt: skip
    assert offline.returncode == 2
    errors = [line for line in offline.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "google/vit-base-patch16-224" in errors[0]
