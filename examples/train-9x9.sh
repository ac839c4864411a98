#!/usr/bin/env bash
# How igo's shipped 9x9 network is made (issue 18), from a fresh clone with the venv of the README's first command.
# Every step resumes when rerun (the same command), so the whole script can be run again after an interruption;
# stop any step with Ctrl-C (or SIGTERM): finished games and the last checkpoint are kept.
#
#   bash examples/train-9x9.sh            # all steps; set MINUTES to bound the Zero step of this sitting
#
# Komi 7.5, Chinese/Tromp-Taylor area scoring, positional superko: the conditions of the ladder against GNU Go.
set -euo pipefail
RUN=${RUN:-runs/i18}
MINUTES=${MINUTES:-120}
mkdir -p "$RUN"

# 1. An expert corpus: GNU Go 3.8 level 10 against itself from 3 random opening stones (varied openings), on all
#    cores. ~4 s of one core per game; 3000 games ~ 100k positions.
igo corpus --games "${GAMES:-3000}" --size 9 --komi 7.5 -o "$RUN/corpus"

# 2. Warm start: the Zero net (6 residual blocks of 64 channels) learns GNU Go's moves (policy) and the games'
#    results (value, weight 0.25), 8 symmetries, held-out accuracy and value MSE as it goes. The first run (273 games)
#    stopped at step 2,479: held-out top-1 41%, top-5 82%; the value head over-fits so few games (held-out MSE > 1).
igo train sl --sgf "$RUN/corpus" --size 9 --config zero-b6c64 --run-dir "$RUN/sl" \
    --eval-every 250 --checkpoint-every 500 --nn-threads 2 --max-steps "${SL_STEPS:-2500}"

# 3. AlphaGo Zero self-play from that net: 2 actors of 32 games at 200 simulations (one per core; the learner and the
#    evaluation games squeeze in beside them: 3 Ray CPUs on 2 cores), no resignation while the value head is the
#    over-fitted SL one, an evaluation against GNU Go level 10 and rollout-only igo every 3rd checkpoint.
igo train zero --size 9 --komi 7.5 --config zero-b6c64 --init "$RUN/sl/sl.safetensors" --run-dir "$RUN/zero" \
    --actors 2 --cpus 3 --resign-threshold -1 --eval-every 3 \
    --eval-opponent "gnugo --mode gtp --level 10 --chinese-rules" --max-minutes "$MINUTES"

# 4. Rate the newest network at 1 s a move against GNU Go level 10 (GNU Go referee, colours alternated), then ship it
#    when it beats the shipped one (>= 55% of >= 200 games at equal time): see the README's "The default network".
echo "newest network: $RUN/zero/latest.safetensors"
