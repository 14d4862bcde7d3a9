#!/usr/bin/env bash
# Re-make the pictures of the README's "Training dynamics" section and docs/training.md.
# Run from the repository root: bash docs/training/make_images.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
g() { python -m gradlab "$@" > /dev/null; }
g descend logistic-regression --batch-size 2 --seed 1 --epochs 60 --lr 0.5,2 --loss-plot docs/training/minibatch.png
g sweep linear-regression --batch-size 2 --seeds 8 --lr 0.001:0.1:15 --epochs 200 --plot docs/training/seeds.png
g descend elongated -o gd,momentum --lr 0.03 --schedule warmup-cosine:warmup_steps=50,decay_steps=400 --steps 400 --sharpness --loss-plot docs/training/schedule.png
g descend elongated -o gd,newton --line-search armijo --lr 10 --loss-plot docs/training/armijo.png
g sweep elongated -o momentum --lr 0.001:0.1 --momentum 0:0.95 --plot docs/training/map.png
g taylor himmelblau --at 2,1 --lr 0.01,0.02 --tol 1 --radius 1.5 --plot docs/training/taylor.png
g taylor "sin(x)" --at 1 --tol 0.01 --plot docs/training/taylor-1d.png
