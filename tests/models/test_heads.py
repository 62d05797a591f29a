"""The BNNeck head: projection, a BatchNorm with a frozen zero shift, optional classifier."""

from __future__ import annotations

import torch

from siamreid.models.heads import BNNeckHead


def test_outputs_are_projection_neck_and_logits() -> None:
    torch.manual_seed(0)
    head = BNNeckHead(8, 4, num_classes=3).eval()
    pooled = torch.randn(5, 8)
    out = head(pooled)
    features = pooled @ head.proj.weight.T
    torch.testing.assert_close(out.features, features)
    bn = head.bn
    neck = (features - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight
    torch.testing.assert_close(out.embeddings, torch.nn.functional.normalize(neck, dim=1))
    assert out.logits is not None
    torch.testing.assert_close(out.logits, neck @ head.classifier.weight.T)  # type: ignore[union-attr]


def test_embeddings_are_unit_length_only_when_normalising() -> None:
    pooled = torch.randn(6, 8, generator=torch.Generator().manual_seed(1))
    norms = BNNeckHead(8, 4).eval()(pooled).embeddings.norm(dim=1)
    torch.testing.assert_close(norms, torch.ones(6))
    raw = BNNeckHead(8, 4, normalize=False).eval()(pooled)
    assert not torch.allclose(raw.embeddings.norm(dim=1), torch.ones(6))


def test_without_classes_there_is_no_classifier() -> None:
    head = BNNeckHead(8, 4)
    assert head.classifier is None
    assert head(torch.randn(2, 8)).logits is None


def test_the_neck_shift_stays_zero_while_training() -> None:
    torch.manual_seed(0)
    head = BNNeckHead(8, 4, num_classes=3)
    optimizer = torch.optim.SGD([p for p in head.parameters() if p.requires_grad], lr=0.5)
    for _ in range(3):
        out = head(torch.randn(16, 8))
        assert out.logits is not None
        loss = out.logits.pow(2).mean() + out.features.mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert not head.bn.bias.requires_grad
    assert torch.count_nonzero(head.bn.bias) == 0
    assert head.bn.weight.grad is not None  # the scale does learn
