#!/usr/bin/env bash
# Re-make every picture the README and docs/ show, from the repository root:
#   bash docs/make_images.sh
# Runs this checkout (installed or not); set GRADLAB="gradlab" to use an installed one.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
g=${GRADLAB:-python -m gradlab}
$g descend elongated --lr 0.01,0.03,0.06,0.08 --plot docs/lr.png --dpi 80 > /dev/null
$g plot elongated --out docs/elongated.png --dpi 90
$g plot rosenbrock --out docs/rosenbrock.png --dpi 90
$g plot himmelblau --out docs/himmelblau.png --dpi 90
$g sweep elongated --optimizer gd,momentum --plot docs/sweep.png --dpi 90 > /dev/null
$g descend rosenbrock --optimizer gd,momentum,adam --lr 0.001 --steps 3000 --3d --plot docs/rosenbrock-3d.png --dpi 90 > /dev/null
$g descend rosenbrock --optimizer gd,momentum,adam,newton --loss-plot docs/loss.png --dpi 90 > /dev/null
$g descend booth --optimizer gd,momentum,adam --lr 0.02 --steps 120 --animate docs/booth.gif --dpi 60 > /dev/null
$g check "sin(x)*exp(y)" --at 1,1 --plot docs/check.png --dpi 90 > /dev/null
$g backprop "z = w*x + b; a = sigmoid(z); L = (a - y)**2" --at w=0.5,x=2,b=0.1,y=1 --plot docs/backprop.png > /dev/null
