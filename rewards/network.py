"""The reward network: a Qwen2-VL backbone, added reward tokens and a bias-free linear head (REFERENCE §2).

The head has three outputs (VQ, MQ, TA). With separate tokens, dimension d is output d read at token d;
with one shared token all three outputs are read there (the paper's ablation). The backbone always comes
from a local directory through ``from_pretrained`` — a downloaded Qwen2-VL-2B-Instruct, a tiny random one
(``rewards.tiny_base``) or a pretrained tiny captioner — one code path for tests and production.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from peft import LoraConfig, inject_adapter_in_model
from torch import nn
from transformers import AutoTokenizer, PreTrainedTokenizerBase, Qwen2VLForConditionalGeneration, Qwen2VLModel

from rewards.config import ModelConfig, TrainConfig
from rewards.template import ModelInputs, build_inputs, reward_token_predecessors
from rewards.tokenizer import add_reward_tokens
from rewards.video_input import VideoPatches

logger = logging.getLogger(__name__)

NUM_DIMENSIONS = 3
EMBEDDING_KEY = "reward_token_embeddings"


class RewardNetwork(nn.Module):
    def __init__(
        self,
        backbone: Qwen2VLModel,
        tokenizer: PreTrainedTokenizerBase,
        cfg: ModelConfig,
        reward_token_ids: Sequence[int],
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.tokenizer = tokenizer
        self.cfg = cfg
        self.reward_token_ids = list(reward_token_ids)
        self.merge_size = backbone.config.vision_config.spatial_merge_size
        hidden = backbone.config.text_config.hidden_size
        self.head = nn.Linear(hidden, NUM_DIMENSIONS, bias=False)
        self._embedding_hook: torch.utils.hooks.RemovableHandle | None = None

    @classmethod
    def from_base(cls, base_dir: str | Path, cfg: ModelConfig) -> RewardNetwork:
        """Load a Qwen2-VL directory, add the reward tokens (new rows start at the mean embedding)."""
        base_dir = Path(base_dir)
        if not (base_dir / "config.json").is_file():
            raise FileNotFoundError(f"not a model directory (no config.json): {base_dir}")
        full = Qwen2VLForConditionalGeneration.from_pretrained(base_dir, dtype=torch.float32)
        backbone = full.model  # the language-model head is not needed for rewards
        tokenizer = AutoTokenizer.from_pretrained(base_dir)
        known = len(tokenizer)
        ids = add_reward_tokens(tokenizer, cfg.token_mode)
        embeddings = backbone.get_input_embeddings()
        if len(tokenizer) > embeddings.num_embeddings:
            # Real Qwen2-VL checkpoints have spare rows beyond the tokenizer; tiny ones need new rows.
            backbone.resize_token_embeddings(len(tokenizer), mean_resizing=False)
            embeddings = backbone.get_input_embeddings()
        with torch.no_grad():
            new = [i for i in ids if i >= known]
            if new:
                embeddings.weight[new] = embeddings.weight[:known].mean(0)
            if new and cfg.reward_token_init == "previous":
                for token_id, before in zip(ids, reward_token_predecessors(tokenizer, cfg), strict=True):
                    if token_id in new:
                        embeddings.weight[token_id] = embeddings.weight[before]
        return cls(backbone, tokenizer, cfg, ids)

    # --- which parameters train -------------------------------------------------------------------------

    def add_lora(self, train: TrainConfig) -> None:
        """LoRA on the language model's linear layers only (not the vision tower, head or embeddings)."""
        lora = LoraConfig(r=train.lora_r, lora_alpha=train.lora_alpha, lora_dropout=train.lora_dropout,
                          target_modules=list(train.lora_targets))
        inject_adapter_in_model(lora, self.backbone.language_model)

    def parameter_groups(self, train: TrainConfig) -> dict[str, list[nn.Parameter]]:
        """Freeze everything, then unfreeze the parts the config trains; returns {part: params}."""
        for p in self.parameters():
            p.requires_grad_(False)
        visual = self.backbone.visual
        groups: dict[str, list[nn.Parameter]] = {"head": list(self.head.parameters())}
        embeddings = self.backbone.get_input_embeddings().weight
        groups["embeddings"] = [embeddings]
        if train.train_lora:
            groups["lora"] = [p for n, p in self.backbone.language_model.named_parameters() if "lora_" in n]
            if not groups["lora"]:
                raise ValueError("train.train_lora is set but no LoRA layers were added (call add_lora first)")
        if train.train_merger:
            groups["merger"] = list(visual.merger.parameters())
        if train.train_vision:
            groups["vision"] = [p for n, p in visual.named_parameters() if not n.startswith("merger.")]
        for params in groups.values():
            for p in params:
                p.requires_grad_(True)
        # Only the reward-token rows of the embedding table learn: zero the other rows' gradients.
        if self._embedding_hook is not None:
            self._embedding_hook.remove()
        row_mask = torch.zeros(embeddings.shape[0], 1, dtype=embeddings.dtype, device=embeddings.device)
        row_mask[self.reward_token_ids] = 1.0
        self._embedding_hook = embeddings.register_hook(lambda grad: grad * row_mask.to(grad.dtype))
        return groups

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """Everything that training may change: trainable parameters plus the reward-token embedding rows."""
        state = {n: p.detach().cpu().clone() for n, p in self.named_parameters()
                 if p.requires_grad and not n.endswith("embed_tokens.weight")}
        state[EMBEDDING_KEY] = self.backbone.get_input_embeddings().weight[self.reward_token_ids].detach().cpu().clone()
        return state

    def load_trainable_state(self, state: dict[str, torch.Tensor]) -> None:
        params = dict(self.named_parameters())
        unknown = [k for k in state if k != EMBEDDING_KEY and k not in params]
        if unknown:
            raise ValueError(f"checkpoint holds parameters this network lacks: {unknown[:5]}")
        with torch.no_grad():
            for name, value in state.items():
                if name == EMBEDDING_KEY:
                    self.backbone.get_input_embeddings().weight[self.reward_token_ids] = value.to(
                        self.backbone.get_input_embeddings().weight)
                else:
                    params[name].copy_(value)

    # --- forward ------------------------------------------------------------------------------------------

    def encode(self, videos: Sequence[VideoPatches], prompts: Sequence[str]) -> ModelInputs:
        return build_inputs(self.tokenizer, videos, prompts, self.reward_token_ids, self.cfg, self.merge_size)

    def forward(self, inputs: ModelInputs) -> torch.Tensor:
        """Rewards (B, 3) in the order VQ, MQ, TA."""
        out = self.backbone(
            input_ids=inputs.input_ids,
            attention_mask=inputs.attention_mask,
            pixel_values_videos=inputs.pixel_values_videos,
            video_grid_thw=inputs.video_grid_thw,
            mm_token_type_ids=inputs.mm_token_type_ids,
            use_cache=False,
        )
        hidden = out.last_hidden_state  # (B, L, H)
        rows = torch.arange(hidden.shape[0], device=hidden.device).unsqueeze(1)
        at_tokens = hidden[rows, inputs.reward_positions]  # (B, K, H)
        scores = self.head(at_tokens.to(self.head.weight.dtype))  # (B, K, 3)
        if self.cfg.token_mode == "shared":
            return scores[:, 0, :]
        return scores.diagonal(dim1=1, dim2=2)  # output d at token d → (B, 3)
