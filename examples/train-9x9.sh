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
#    cores. ~4-9 s of one core per game, 38 moves on average. The first sitting had time for 273 games (10,500
#    positions; the openings are seeded by game number, so GAMES=273 gives the same games); more is better.
igo corpus --games "${GAMES:-273}" --size 9 --komi 7.5 -o "$RUN/corpus"

# 2. Warm start: the Zero net (6 residual blocks of 64 channels) learns GNU Go's moves and passes (policy) and the
#    games' results (value, weight 0.1: the value head over-fits a few hundred games), 8 symmetries, held-out accuracy
#    and value MSE as it goes. First sitting (273 games, 2,000 steps, 4 min on 2 cores): held-out top-1 42.7%, top-5
#    83.3%, value MSE 1.02. (A first try without passes gave a policy that never passed: every self-play game ran to
#    the 162-move limit; with value weight 0.25 the held-out value MSE reached 1.5.)
igo train sl --sgf "$RUN/corpus" --size 9 --config zero-b6c64 --run-dir "$RUN/sl2" --value-weight 0.1 \
    --eval-every 250 --checkpoint-every 500 --nn-threads 2 --max-steps "${SL_STEPS:-2000}"

# 3. AlphaGo Zero self-play from that net: 2 actors of 32 games at 200 simulations (one per core; the learner and the
#    evaluation games squeeze in beside them: 3 Ray CPUs on 2 cores), no resignation while the value head is the
#    over-fitted SL one, an evaluation against GNU Go level 10 and rollout-only igo every 3rd checkpoint.
igo train zero --size 9 --komi 7.5 --config zero-b6c64 --init "$RUN/sl2/sl.safetensors" --run-dir "$RUN/zero" \
    --actors 2 --cpus 3 --resign-threshold -1 --eval-every 3 \
    --eval-opponent "gnugo --mode gtp --level 10 --chinese-rules" --max-minutes "$MINUTES"

# 3b. Second sitting: a new run from the first one's network (its step 1,335 then; PARENT=<a checkpoint> to start
#    from another, e.g. nets/data/igo-9x9-float.safetensors, the shipped network's float weights), with
#    self-play in int8 (--actor-precision int8: one actor does what two float actors did, so the learner gets the other
#    core), resignation below -0.97 with 20% of games played out (at -0.9 / 10% the first 455 steps had 5 false
#    resignations in 42 checked games). Sitting of 2026-12-07: 68 minutes, 2,394 games, 197,809 positions, 3,091 steps,
#    1,760-2,060 games/hour, 2.66 CPU-hours; its evaluations at 200 simulations: 4/4 against the candidate and
#    rollout-only igo, 3/4 against GNU Go level 10 (Tromp-Taylor).
PARENT=${PARENT:-$RUN/zero/latest.safetensors}
igo train zero --size 9 --komi 7.5 --config zero-b6c64 --init "$PARENT" --run-dir "$RUN/zero2" \
    --actors 1 --cpus 2 --actor-precision int8 --resign-threshold -0.97 --no-resign-fraction 0.2 --eval-every 3 \
    --eval-opponent "gnugo --mode gtp --level 10 --chinese-rules" --max-minutes "$MINUTES"

# 3c. Third sitting: the same run resumed with KataGo's playout cap randomisation (a quarter of the moves full
#    200-simulation searches, recorded; the others 50 simulations, no noise, not recorded) and two int8 actors of
#    half a Ray CPU each beside the learner (the learner is mostly idle with fewer positions per game). Sitting of
#    2026-12-07: ~6,500 games/hour and ~37 positions/s against 1,760-2,060 games/hour before (see the README).
igo train zero --run-dir "$RUN/zero2" --fast-simulations 50 --full-search-fraction 0.25 --train-ratio 4 \
    --actors 2 --actor-cpus 0.5 --cpus 2 --max-minutes "$MINUTES"

#    Sitting of 2026-12-07 (fourth): its step 5,943 (after the third) ships: 139 of 200 against rollout-only igo and
#    62 of 100 against GNU Go level 10 at 1 s a move with --lambda 0.5 (README, "The default network").
# 3d. Fifth sitting, a change of method after a fourth sitting of the same settings showed no gain: the learning
#    rate divided by 10 from the samples trained so far (2,130,000 then; a resume takes a new --lr-schedule). Sitting
#    of 2026-12-07: 50 min, 7,983 games (~9,500 games/hour), 2,452 steps; its step 10,772 won 69 of 100 against
#    GNU Go level 10 where the first shipped network won 62 under the same conditions, and 163 of 200 against it
#    head to head: it is the shipped network now (int8, --lambda 0.5).
igo train zero --run-dir "$RUN/zero2" --fast-simulations 50 --full-search-fraction 0.25 --train-ratio 4 \
    --actors 2 --actor-cpus 0.5 --cpus 2 --lr-schedule 0:0.02,2130000:0.002 --max-minutes "$MINUTES"

# 4. Rate the newest network at 1 s a move against GNU Go level 10 (GNU Go referee, colours alternated), then ship it
#    when it beats the shipped one (>= 55% of >= 200 games at equal time): see the README's "The default network".
echo "newest network: $RUN/zero2/latest.safetensors"
