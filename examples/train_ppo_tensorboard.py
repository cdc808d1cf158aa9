"""Train PPO on EndEdgeCloud-v1 and watch the env's own metrics in TensorBoard.

    python examples/train_ppo_tensorboard.py --timesteps 20000
    tensorboard --logdir runs/      # e3gym/mean_latency_s, e3gym/mean_accuracy, choice histograms
"""
import argparse
from pathlib import Path

from e3gym.agents.train import evaluate, train

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--timesteps", type=int, default=20_000)
parser.add_argument("--logdir", type=Path, default=Path("runs"))
args = parser.parse_args()

model, path = train("ppo", "e3gym/EndEdgeCloud-v1", args.timesteps, seed=0, logdir=args.logdir, progress_bar=True)
print("saved", path)
print(evaluate(model, "ppo", "e3gym/EndEdgeCloud-v1", seeds=[100, 101, 102]))
print(f"now run: tensorboard --logdir {args.logdir}")
