#!/usr/bin/env bash
# Re-make every picture the README shows. Run from the repository root with gradlab installed:
#   bash docs/make_images.sh
set -euo pipefail
cd "$(dirname "$0")/.."
gradlab descend elongated --lr 0.01,0.03,0.06,0.08 --plot docs/lr.png > /dev/null
gradlab plot rosenbrock --out docs/rosenbrock.png
gradlab plot himmelblau --out docs/himmelblau.png
gradlab sweep elongated --optimizer gd,momentum --plot docs/sweep.png > /dev/null
gradlab descend rosenbrock --optimizer gd,momentum,adam --lr 0.001 --steps 3000 --3d --plot docs/rosenbrock-3d.png > /dev/null
gradlab descend rosenbrock --optimizer gd,momentum,adam,newton --loss-plot docs/loss.png > /dev/null
gradlab descend booth --optimizer gd,momentum,adam --lr 0.02 --steps 120 --animate docs/booth.gif --dpi 60 > /dev/null
gradlab check "sin(x)*exp(y)" --at 1,1 --plot docs/check.png > /dev/null
