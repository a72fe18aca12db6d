#!/usr/bin/env bash
# push_surveys.sh - end-of-call surveys against a real logshared:
# out-of-scale scores and unknown issues refused with 400 and nothing
# stored; a survey with report_issue sent by the library creates a
# ticket (source=survey) carrying the store's logs; files without
# report_issue are not kept; Idempotency-Key; and the stats equal what
# was submitted.
source "$LOGSHARE_TEST_LIB/testlib.sh"

HELPER="$LOGSHARE_BUILD_DIR/tests/push/push_helper"
DATA="$TEST_TMP/data"
STORE="$TEST_TMP/store"
"$HELPER" write "$STORE" 20 || fail "cannot write a store"
start_server "$DATA"
ALICE=$("$LOGSHARED_BIN" token --data-dir "$DATA" --user alice)
AGENT=$("$LOGSHARED_BIN" token --data-dir "$DATA" --user agent --role support)
jget() { node -e 'let d=JSON.parse(process.argv[1]);for(const k of process.argv[2].split("."))d=d?.[k];console.log(d===undefined?"":typeof d==="object"?JSON.stringify(d):d)' "$1" "$2"; }
post() { # post JSON [extra curl args] -> $STATUS, $BODY
  STATUS=$(curl -s -o "$TEST_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $ALICE" \
    -H 'Content-Type: application/json' --data-binary "$1" "${@:2}" "$SERVER_URL/api/v1/surveys")
  BODY=$(cat "$TEST_TMP/body")
}
stats() { curl -s -H "Authorization: Bearer $AGENT" "$SERVER_URL/api/v1/surveys/stats"; }

# --- refusals store nothing -----------------------------------------------
post '{"call_id":"c0","overall":{"score":6}}'
assert_eq 400 "$STATUS" "score 6 on the default 1..5 scale"
assert_contains "$BODY" "outside the scale 1..5" "the message names the problem"
post '{"call_id":"c0","audio":{"score":11,"scale":{"lower":0,"upper":10}}}'
assert_eq 400 "$STATUS" "score above a custom scale"
post '{"call_id":"c0","audio":{"score":3,"scale":{"lower":2,"upper":10}}}'
assert_eq 400 "$STATUS" "lower bound 2"
post '{"call_id":"c0","audio":{"score":3,"scale":{"lower":1,"upper":101}}}'
assert_eq 400 "$STATUS" "upper bound 101"
post '{"call_id":"c0","video":{"score":3,"issues":["Echo"]}}'
assert_eq 400 "$STATUS" "an audio issue under video"
post '{"overall":{"score":3}}'
assert_eq 400 "$STATUS" "no call_id"
assert_eq 0 "$(jget "$(stats)" total)" "nothing stored by refused surveys"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ALICE" "$SERVER_URL/api/v1/surveys/stats")
assert_eq 403 "$STATUS" "stats need support"
assert_contains "$(curl -s -H "Authorization: Bearer $ALICE" "$SERVER_URL/api/v1/surveys/stats")" \
  "reading survey stats needs the support role" "the 403 says why"
STATUS=$(curl -s -o "$TEST_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $AGENT" "$SERVER_URL/api/v1/surveys/stats?bucket=week")
assert_eq 400 "$STATUS" "a bucket neither day nor hour"
assert_contains "$(cat "$TEST_TMP/body")" "bucket must be day or hour" "the 400 says which buckets"
assert_eq 86400 "$(jget "$(curl -s -H "Authorization: Bearer $AGENT" "$SERVER_URL/api/v1/surveys/stats?bucket=day")" bucket_seconds)" "bucket=day"
assert_eq 3600 "$(jget "$(curl -s -H "Authorization: Bearer $AGENT" "$SERVER_URL/api/v1/surveys/stats?bucket=hour")" bucket_seconds)" "bucket=hour"
STATUS=$(curl -s -o "$TEST_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $AGENT" \
  "$SERVER_URL/api/v1/surveys/stats?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z")
assert_eq 400 "$STATUS" "stats with since later than until"
assert_contains "$(cat "$TEST_TMP/body")" "since is later than until" "the 400 says why"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ALICE" -H 'Content-Type: text/plain' \
  --data-binary x "$SERVER_URL/api/v1/surveys")
assert_eq 415 "$STATUS" "wrong content type"
pass "out-of-scale scores, bad scales and wrong issues refused with 400; nothing stored"

# --- a known set of surveys ------------------------------------------------
SURVEYS=(
  '{"call_id":"c1","overall":{"score":1,"issues":["CallEndedUnexpectedly"]},"audio":{"score":2,"issues":["Echo","LowVolume"]}}'
  '{"call_id":"c2","overall":{"score":4},"audio":{"score":5}}'
  '{"call_id":"c3","overall":{"score":2},"video":{"score":3,"issues":["Freezes"]},"screenshare":{"score":1,"issues":["LargeDelay"]}}'
  '{"call_id":"c4","overall":{"score":8,"scale":{"lower":0,"upper":10,"low_threshold":3}},"audio":{"score":1,"issues":["Echo"]}}'
  '{"call_id":"c5","overall":{"score":5},"more_info":"fine"}'
)
for s in "${SURVEYS[@]}"; do
  post "$s"
  assert_eq 201 "$STATUS" "survey $s"
done
post "${SURVEYS[1]}" -H 'Idempotency-Key: same-key'
FIRST=$(jget "$BODY" id)
post "${SURVEYS[1]}" -H 'Idempotency-Key: same-key'
assert_eq "$FIRST" "$(jget "$BODY" id)" "a retry with the same key returns the first survey"
# a reused key with another body stores nothing and says what was stored
post '{"call_id":"c-other","overall":{"score":1},"report_issue":true}' -H 'Idempotency-Key: same-key'
assert_eq "$FIRST" "$(jget "$BODY" id)" "a reused key returns the first survey"
assert_eq c2 "$(jget "$BODY" call_id)" "the replay names the stored survey's call, not the retry's"
assert_eq false "$(jget "$BODY" report_issue)" "the replay's report_issue is the stored one"
pass "6 surveys stored; a retry with the same Idempotency-Key stored nothing new"
ALL=("${SURVEYS[@]}" "${SURVEYS[1]}")

# --- files without report_issue are not kept --------------------------------
echo "screenshot" >"$TEST_TMP/shot.png"
# every file under blobs/, committed or temporary: neither kind may stay
blob_count() { find "$DATA/blobs" -type f | wc -l; }
BLOBS=$(blob_count)
STATUS=$(curl -s -o "$TEST_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $ALICE" \
  -F 'survey={"call_id":"c7","overall":{"score":3}}' -F "f=@$TEST_TMP/shot.png" "$SERVER_URL/api/v1/surveys")
assert_eq 201 "$STATUS" "multipart survey without report_issue"
assert_eq 1 "$(jget "$(cat "$TEST_TMP/body")" attachments_ignored)" "its file was not kept"
assert_eq null "$(jget "$(cat "$TEST_TMP/body")" ticket_id)" "no ticket"
ALL+=('{"call_id":"c7","overall":{"score":3}}')
STATUS=$(curl -s -o "$TEST_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $ALICE" \
  -F 'survey={"call_id":"c8","overall":{"score":0}}' -F "f=@$TEST_TMP/shot.png" "$SERVER_URL/api/v1/surveys")
assert_eq 400 "$STATUS" "a multipart survey out of scale"
assert_eq "$BLOBS" "$(blob_count)" "neither survey left a file under blobs/"
pass "files without report_issue are dropped; a bad multipart survey is refused"

# A retry of a stored survey (no report, no ticket) that now asks for a
# report with a file: the first survey is the answer, and neither a
# ticket nor a file is stored (the retry used to create a ticket that
# no survey named).
TICKETS=$(sqlite3 "$DATA/logshare.db" 'SELECT count(*) FROM tickets')
STATUS=$(curl -s -o "$TEST_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $ALICE"   -H 'Idempotency-Key: same-key' -F 'survey={"call_id":"c-files","overall":{"score":1},"report_issue":true}'   -F "f=@$TEST_TMP/shot.png" "$SERVER_URL/api/v1/surveys")
assert_eq 201 "$STATUS" "a multipart retry under a used key"
assert_eq "$FIRST" "$(jget "$(cat "$TEST_TMP/body")" id)" "it answers with the first survey"
assert_eq null "$(jget "$(cat "$TEST_TMP/body")" ticket)" "with the first survey's (absent) ticket"
assert_eq "$TICKETS" "$(sqlite3 "$DATA/logshare.db" 'SELECT count(*) FROM tickets')" "no ticket was created"
assert_eq "$BLOBS" "$(blob_count)" "its file was not kept"
pass "a retry under a used key stores no ticket and no file"

# --- the library: report_issue with the store's logs -> a ticket -------------
RI='{"call_id":"c9","audio":{"score":1,"issues":["NoRemoteAudio"]},"more_info":"could not hear them","report_issue":true}'
OUT=$("$HELPER" survey "$STORE" "$SERVER_URL" "$ALICE" "$RI") || fail "logshare_submit_survey failed"
TICKET=$(jget "$OUT" ticket_id)
[ -n "$TICKET" ] || fail "no ticket for a survey with report_issue: $OUT"
T=$(curl -s -H "Authorization: Bearer $AGENT" "$SERVER_URL/api/v1/tickets/$TICKET")
assert_eq survey "$(jget "$T" source)" "ticket source"
assert_eq c9 "$(jget "$T" call_ids.0)" "ticket call id"
assert_contains "$(jget "$T" description)" "could not hear them" "ticket description"
[ "$(jget "$T" attachments.length)" -ge 1 ] || fail "the survey's ticket has no log files: $T"
assert_contains "$(jget "$T" attachments)" ".lslog" "a log file is attached"
# the ticket names its survey, fetched by id and in the list
assert_eq "$(jget "$OUT" id)" "$(jget "$T" survey_id)" "GET /api/v1/tickets/{id} has survey_id"
L=$(curl -s -H "Authorization: Bearer $AGENT" "$SERVER_URL/api/v1/tickets?call_id=c9")
assert_eq "$TICKET" "$(jget "$L" tickets.0.id)" "the list finds the survey's ticket"
assert_eq "$(jget "$OUT" id)" "$(jget "$L" tickets.0.survey_id)" "the list's ticket has survey_id"
# a ticket no survey made has survey_id null, even one that says source=survey
PLAIN=$(curl -s -H "Authorization: Bearer $ALICE" -F description=plain -F source=survey \
  -F "f=@$TEST_TMP/shot.png" "$SERVER_URL/api/v1/tickets")
assert_eq survey "$(jget "$PLAIN" source)" "a ticket posted with source=survey"
assert_eq null "$(jget "$PLAIN" survey_id)" "no survey made it"
ALL+=("$RI")
pass "a survey with report_issue from the library made ticket $TICKET with the logs"
# the description sums up the scores and issues; the survey is found by ticket
assert_contains "$(jget "$T" description)" "Scores: audio 1/5 (low)" "scores in the description"
assert_contains "$(jget "$T" description)" "Issues: audio: NoRemoteAudio" "issues in the description"
STATUS=$(curl -s -o "$TEST_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $AGENT" \
  "$SERVER_URL/api/v1/surveys?ticket_id=$TICKET")
assert_eq 200 "$STATUS" "surveys by ticket"
SV=$(cat "$TEST_TMP/body")
assert_eq 1 "$(jget "$SV" surveys.length)" "one survey made the ticket"
assert_eq c9 "$(jget "$SV" surveys.0.call_id)" "its call id"
assert_eq 1 "$(jget "$SV" surveys.0.ratings.audio.score)" "its audio score"
assert_eq true "$(jget "$SV" surveys.0.ratings.audio.low)" "marked low"
assert_eq '["NoRemoteAudio"]' "$(jget "$SV" surveys.0.issues.audio)" "its issues"
assert_eq "$(jget "$OUT" id)" "$(jget "$SV" surveys.0.id)" "the same survey id"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ALICE" \
  "$SERVER_URL/api/v1/surveys?ticket_id=$TICKET")
assert_eq 403 "$STATUS" "a user cannot read surveys by ticket"
STATUS=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $AGENT" "$SERVER_URL/api/v1/surveys")
assert_eq 400 "$STATUS" "ticket_id is required"
# the create answer's ticket names the survey
STATUS=$(curl -s -o "$TEST_TMP/body" -w '%{http_code}' -H "Authorization: Bearer $ALICE" \
  -F 'survey={"call_id":"c11","video":{"score":2,"issues":["Freezes","LowQuality"]},"report_issue":true}' \
  -F "f=@$TEST_TMP/shot.png" "$SERVER_URL/api/v1/surveys")
assert_eq 201 "$STATUS" "multipart survey with report_issue"
assert_eq "$(jget "$(cat "$TEST_TMP/body")" id)" "$(jget "$(cat "$TEST_TMP/body")" ticket.survey_id)" "ticket.survey_id"
assert_contains "$(jget "$(cat "$TEST_TMP/body")" ticket.description)" "Issues: video: " "issues of the multipart survey"
ALL+=('{"call_id":"c11","video":{"score":2,"issues":["Freezes","LowQuality"]},"report_issue":true}')
pass "the survey's ticket sums up scores and issues; GET /api/v1/surveys?ticket_id= finds the survey"
if "$HELPER" survey "$STORE" "$SERVER_URL" "$ALICE" '{"call_id":"c10","overall":{"score":9}}' 2>"$TEST_TMP/err"; then
  fail "an out-of-scale survey from the library was accepted"
fi
assert_contains "$(cat "$TEST_TMP/err")" "outside the scale" "the library reports the server's reason"
pass "the library reports a refused survey"

# --- stats equal what was submitted ----------------------------------------
stats >"$TEST_TMP/stats.json"
printf '%s\n' "${ALL[@]}" >"$TEST_TMP/submitted.jsonl"
node - "$TEST_TMP/stats.json" "$TEST_TMP/submitted.jsonl" <<'JS' || fail "stats differ from what was submitted"
const fs = require('fs');
const st = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const subs = fs.readFileSync(process.argv[3], 'utf8').trim().split('\n').map(l => JSON.parse(l));
const want = {total: subs.length, report_issue: 0, categories: {}, issues: {}};
for (const s of subs) {
  if (s.report_issue) want.report_issue++;
  for (const c of ['overall', 'audio', 'video', 'screenshare']) {
    const r = s[c];
    want.categories[c] ??= {count: 0, low: 0, dist: {}};
    if (!r) continue;
    const sc = r.scale || {lower: 1, upper: 5, low_threshold: 2};
    const thr = sc.low_threshold ?? sc.lower + Math.floor((sc.upper - sc.lower) / 4);
    const w = want.categories[c];
    w.count++;
    if (r.score <= thr) w.low++;
    const k = `${sc.lower}-${sc.upper}:${r.score}`;
    w.dist[k] = (w.dist[k] || 0) + 1;
    for (const i of r.issues || []) want.issues[`${c}/${i}`] = (want.issues[`${c}/${i}`] || 0) + 1;
  }
}
const check = (what, a, b) => { if (JSON.stringify(a) !== JSON.stringify(b)) { console.error(`${what}: server ${JSON.stringify(a)} vs submitted ${JSON.stringify(b)}`); process.exitCode = 1; } };
check('total', st.total, want.total);
check('report_issue', st.report_issue, want.report_issue);
for (const [c, w] of Object.entries(want.categories)) {
  const g = st.categories[c];
  check(`${c}.count`, g.count, w.count);
  check(`${c}.low`, g.low, w.low);
  const dist = {};
  for (const d of g.distribution) dist[`${d.lower}-${d.upper}:${d.score}`] = d.count;
  check(`${c}.distribution`, Object.keys(dist).sort().map(k => [k, dist[k]]), Object.keys(w.dist).sort().map(k => [k, w.dist[k]]));
}
const issues = {};
for (const i of st.issues) issues[`${i.category}/${i.issue}`] = i.count;
check('issues', Object.keys(issues).sort().map(k => [k, issues[k]]), Object.keys(want.issues).sort().map(k => [k, want.issues[k]]));
check('top issue', `${st.issues[0].category}/${st.issues[0].issue}`, 'audio/Echo');
const ratings = Object.values(want.categories).reduce((a, w) => a + w.count, 0);
const lows = Object.values(want.categories).reduce((a, w) => a + w.low, 0);
check('timeline ratings', st.timeline.reduce((a, b) => a + b.ratings, 0), ratings);
check('timeline low', st.timeline.reduce((a, b) => a + b.low, 0), lows);
JS
pass "stats equal what was submitted ($(jget "$(cat "$TEST_TMP/stats.json")" total) surveys)"
