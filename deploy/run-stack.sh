#!/usr/bin/env bash
# The main job: installs what is missing, builds, starts Redis (AOF on), the
# vendor sandbox seeded with a demo dataset and the four campsync services on
# loopback, links the Marketo programs to Salesforce campaigns, runs a full
# sync and attribution, and prints a report. Everything it starts is stopped
# by pid when it ends, unless --keep is given (then it prints how to stop).
#   deploy/run-stack.sh [--keep] [--people N]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
keep=0
people=3000
while (($#)); do
  case "$1" in
    --keep) keep=1 ;;
    --people) people=$2; shift ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "run-stack: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

deploy/install-deps.sh
echo "building..."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
bin=$root/build/bin
ctl=$bin/campsyncctl
py=/usr/bin/python3

run=$root/.run/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$run"
pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}
((keep)) || trap stop_all EXIT

free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "run-stack: nothing listens on port $1 (logs in $run)" >&2; return 1
}

# --- Redis, with AOF so locks, bases and events survive a restart ---
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$run" --appendonly yes \
  --appendfsync everysec --maxmemory-policy noeviction --save '' >"$run/redis.log" 2>&1 &
pids+=($!)
wait_port "$redis_port"
export CAMPSYNC_REDIS_URL=redis://127.0.0.1:$redis_port/0

# --- the vendor sandbox with a demo dataset ---
"$bin/campsync-sandbox" --marketo 127.0.0.1:0 --salesforce 127.0.0.1:0 --admin 127.0.0.1:0 \
  --generate "people=$people,programs=4,members=$((people * 4 / 15)),seed=7" \
  >"$run/sandbox.addr" 2>"$run/sandbox.log" &
pids+=($!)
for _ in $(seq 300); do [[ -s $run/sandbox.addr ]] && break; sleep 0.1; done
addr() { $py -c "import json,sys; print(json.load(open('$run/sandbox.addr'))['$1'])"; }
mkto_url=$(addr marketo); sf_url=$(addr salesforce); admin_url=$(addr admin)
printf 'sbx-mkto-secret' >"$run/marketo_client_secret"
printf 'sbx-sf-secret' >"$run/salesforce_client_secret"
chmod 600 "$run"/*_client_secret

# --- the four services ---
declare -A port
for svc in marketo salesforce reconciler attribution; do port[$svc]=$(free_port); done
export CAMPSYNC_ALLOW_PLAIN_HTTP=true
export CAMPSYNC_MARKETO_URL=$mkto_url CAMPSYNC_MARKETO_IDENTITY_URL=$mkto_url/identity
export CAMPSYNC_MARKETO_CLIENT_ID=sbx-mkto-client CAMPSYNC_MARKETO_CLIENT_SECRET_FILE=$run/marketo_client_secret
export CAMPSYNC_SALESFORCE_LOGIN_URL=$sf_url CAMPSYNC_SALESFORCE_CLIENT_ID=sbx-sf-client
export CAMPSYNC_SALESFORCE_CLIENT_SECRET_FILE=$run/salesforce_client_secret
export CAMPSYNC_MARKETO_CONNECTOR=127.0.0.1:${port[marketo]}
export CAMPSYNC_SALESFORCE_CONNECTOR=127.0.0.1:${port[salesforce]}
export CAMPSYNC_RECONCILER=127.0.0.1:${port[reconciler]}
export CAMPSYNC_ATTRIBUTION=127.0.0.1:${port[attribution]}
for svc in marketo salesforce reconciler attribution; do
  "$bin/campsync-$svc" --listen "127.0.0.1:${port[$svc]}" --metrics 127.0.0.1:0 \
    >"$run/$svc.log" 2>&1 &
  pids+=($!)
done
for svc in marketo salesforce reconciler attribution; do
  wait_port "${port[$svc]}"
  for _ in $(seq 100); do
    "$ctl" --target "127.0.0.1:${port[$svc]}" health >/dev/null 2>&1 && break
    sleep 0.1
  done
done

echo
echo "== campsync is up =========================================================="
echo "sandbox      marketo $mkto_url  salesforce $sf_url  admin $admin_url"
echo "redis        127.0.0.1:$redis_port (AOF in $run)"
for svc in marketo salesforce reconciler attribution; do
  "$ctl" --target "127.0.0.1:${port[$svc]}" health | sed "s/^/$(printf '%-12s ' "$svc")/"
done

# --- link every program to its campaign (a new one where it has none) ---
echo
echo "== linking programs to campaigns ==========================================="
curl -s "$admin_url/admin/state" >"$run/state-before.json"
$py - "$run/state-before.json" >"$run/links.txt" <<'EOF'
import json, sys
state = json.load(open(sys.argv[1]))
for p in state["marketo"]["programs"]:
    if p.get("sfdcId"):
        args = [str(p["id"]), "--campaign", p["sfdcId"]]
    else:
        args = [str(p["id"]), "--new-campaign", p["name"] + " (SFDC)", "--create-missing-statuses"]
    print("\t".join(args))
EOF
while IFS=$'\t' read -r -a args; do
  "$ctl" link "${args[@]}" || true
done <"$run/links.txt"
echo
"$ctl" pairs

# --- one sync cycle per pair ---
sync_all() {
  local tag=$1
  for pid in $("$ctl" --json pairs | $py -c 'import json,sys; [print(p["program_id"]) for p in json.load(sys.stdin).get("pairs", [])]'); do
    "$ctl" --json sync "$pid" >"$run/cycle-$tag-$pid.json" || true
  done
}
echo
echo "== first sync (no base yet: union of both sides, higher status wins) ========"
sync_all first
"$ctl" pairs

# --- people work in both tools, then the next cycle carries it across ---
echo
echo "== users change things on both sides, then the next cycle ==================="
curl -s "$admin_url/admin/state" >"$run/state-mid.json"
$py - "$run/state-mid.json" "$admin_url" <<'EOF'
import json, sys, urllib.request
state, admin = json.load(open(sys.argv[1])), sys.argv[2]
def post(path, body):
    req = urllib.request.Request(admin + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req))
mk, sf = state["marketo"], state["salesforce"]["records"]
prog = {p["id"]: p for p in mk["programs"]}
steps = {c["name"]: [s["name"] for s in sorted(c["progressionStatuses"], key=lambda s: s["step"]) if s["step"] > 0]
         for c in mk["channels"]}
lead_sf = {l["id"]: l.get("sfdcContactId") or l.get("sfdcLeadId") for l in mk["leads"]}
done = []
for pid in (1001, 1002):
    p = prog[pid]
    order = steps[p["channel"]]
    members = [m for m in mk["members"] if m["programId"] == pid and m["statusName"] in order]
    campaign = p.get("sfdcId")
    sf_members = {(m.get("ContactId") or m.get("LeadId")): m for m in sf["CampaignMember"]
                  if m["CampaignId"] == campaign and not m.get("IsDeleted")}
    # Marketo: two members move forward, one is removed.
    for m in members[:2]:
        nxt = order[min(order.index(m["statusName"]) + 1, len(order) - 1)]
        post("/admin/marketo/change_member_status", {"programId": pid, "leadId": m["leadId"], "statusName": nxt})
        done.append(f"marketo  program {pid}: lead {m['leadId']} {m['statusName']} -> {nxt}")
    post("/admin/marketo/remove_member", {"programId": pid, "leadId": members[2]["leadId"]})
    done.append(f"marketo  program {pid}: lead {members[2]['leadId']} removed")
    # Salesforce: one member moves forward, one backwards (to be rejected), one conflict.
    picks = [m for m in members[3:40] if lead_sf.get(m["leadId"]) in sf_members][:3]
    for i, m in enumerate(picks):
        cm = sf_members[lead_sf[m["leadId"]]]
        k = order.index(cm["Status"]) if cm["Status"] in order else 0
        if i == 0:
            to = order[min(k + 1, len(order) - 1)]
        elif i == 1:
            to = order[max(k - 1, 0)]
        else:
            to = order[min(k + 1, len(order) - 1)]
            post("/admin/marketo/change_member_status", {"programId": pid, "leadId": m["leadId"], "statusName": order[-1]})
            done.append(f"marketo  program {pid}: lead {m['leadId']} -> {order[-1]} (same member as below: a conflict)")
        post("/admin/salesforce/set_member_status", {"id": cm["Id"], "Status": to})
        done.append(f"salesforce campaign {campaign}: member {cm['Id']} {cm['Status']} -> {to}")
print("\n".join("  " + d for d in done))
EOF
sync_all second

# --- attribution: channel mapping, touchpoints, revenue per model ---
echo "== touchpoints and attribution ============================================="
"$ctl" mapping set "Webinar=Events/Webinar" "Tradeshow=Events/Trade Show" \
  "Conference=Events/Conference" "Content Syndication=Paid/Content Syndication" \
  "Email=Email/Newsletter" "Email Send=Email/Email Send" >/dev/null
"$ctl" refresh --full
"$ctl" --json touchpoints >"$run/touchpoints.jsonl" || true
curl -s "$admin_url/admin/state" >"$run/state-after.json"
"$ctl" --json pairs >"$run/pairs.json"

$py - "$run" <<'EOF'
import glob, json, os, sys
from collections import Counter
run = sys.argv[1]
print()
print("== report ===================================================================")
moved = Counter()
for f in sorted(glob.glob(os.path.join(run, "cycle-first-*.json"))) + sorted(glob.glob(os.path.join(run, "cycle-second-*.json"))):
    for line in open(f):
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if "counts" not in rec:
            continue
        c = rec.get("counts") or {}
        cycle = "first " if "cycle-first-" in f else "second"
        print(f"{cycle} cycle, program {rec['program_id']} <-> {rec['campaign_id']}: {rec['status']}"
              f" - new {c.get('new', 0)}, updated {c.get('updated', 0)}, deleted {c.get('deleted', 0)},"
              f" failed {c.get('failed', 0)}, skipped {c.get('skipped', 0)},"
              f" conflicts {rec.get('conflicts', 0)}, backwards rejected {rec.get('rejected_backwards', 0)}")
        for e in rec.get("errors", [])[:2]:
            print(f"    {e.get('side')} {e.get('action')} {e.get('person')}: {e.get('message')}")
before = json.load(open(os.path.join(run, "state-before.json")))
after = json.load(open(os.path.join(run, "state-after.json")))
def count(state, vendor, key):
    if vendor == "marketo":
        return len(state["marketo"].get(key, []))
    return len([r for r in state["salesforce"]["records"].get(key, []) if not r.get("IsDeleted")])
print()
print("records before -> after (both cycles):")
print(f"  Salesforce campaign members  {count(before,'salesforce','CampaignMember'):6d} -> {count(after,'salesforce','CampaignMember'):6d}")
print(f"  Marketo program members      {count(before,'marketo','members'):6d} -> {count(after,'marketo','members'):6d}")
print(f"  Salesforce leads             {count(before,'salesforce','Lead'):6d} -> {count(after,'salesforce','Lead'):6d}   (people created as leads)")
print(f"  Marketo people               {count(before,'marketo','leads'):6d} -> {count(after,'marketo','leads'):6d}   (people created in Marketo)")
print()
print("both sides after the last cycle (members with an email, compared by email):")
mk, sf = after["marketo"], after["salesforce"]["records"]
email_of_lead = {l["id"]: (l.get("email") or "").lower() for l in mk["leads"]}
email_of_sf = {r["Id"]: (r.get("Email") or "").lower() for t in ("Lead", "Contact") for r in sf.get(t, [])}
for pair in json.load(open(os.path.join(run, "pairs.json"))).get("pairs", []):
    pid, cid = pair["program_id"], pair["campaign_id"]
    m_side = {email_of_lead.get(m["leadId"]): m["statusName"] for m in mk["members"]
              if m["programId"] == pid and m["statusName"] != "Not in Program"}
    s_side = {email_of_sf.get(r.get("ContactId") or r.get("LeadId")): r["Status"]
              for r in sf["CampaignMember"] if r["CampaignId"] == cid and not r.get("IsDeleted")}
    m_side.pop("", None); s_side.pop("", None); m_side.pop(None, None); s_side.pop(None, None)
    only_m = len(set(m_side) - set(s_side)); only_s = len(set(s_side) - set(m_side))
    differ = sum(1 for e in set(m_side) & set(s_side) if m_side[e] != s_side[e])
    verdict = "in sync" if not (only_m or only_s or differ) else "DIFFERENT"
    print(f"  program {pid} <-> {cid}: {len(m_side)} in Marketo, {len(s_side)} in Salesforce,"
          f" {differ} status differences, {only_m}+{only_s} one-sided: {verdict}")
tps = [json.loads(l) for l in open(os.path.join(run, "touchpoints.jsonl")) if l.strip().startswith("{")]
by_channel = Counter((t.get("channel", ""), t.get("subchannel", "")) for t in tps if "id" in t)
print()
print("touchpoints by channel:")
for (ch, sub), n in sorted(by_channel.items()):
    print(f"  {ch:12s} {sub:24s} {n:6d}")
EOF
echo
echo "revenue by subchannel under each model:"
for model in first_touch lead_creation u_shaped w_shaped full_path linear time_decay data_driven; do
  echo "-- $model"
  "$ctl" report --model "$model" --group-by subchannel || true
done

echo
echo "logs: $run"
if ((keep)); then
  echo "still running (--keep). Try: CAMPSYNC_RECONCILER=$CAMPSYNC_RECONCILER $ctl pairs"
  echo "stop with: kill ${pids[*]}"
fi
