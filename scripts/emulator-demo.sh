#!/usr/bin/env bash
# Drives the GitHub emulator with nothing but curl, git and openssl:
# creates an app (RSA key, RS256 JWT signed with openssl), a user and a
# repository, installs the app, pushes a branch with an installation token,
# reads it back through the REST API, is refused a non-fast-forward ref
# update, and checks the push webhook's HMAC signature.
#
# Usage: scripts/emulator-demo.sh            (starts `hoist emulator` itself)
#        EMULATOR_URL=http://127.0.0.1:8787 scripts/emulator-demo.sh
# HOIST names the hoist binary (default: hoist on PATH).
set -euo pipefail
# go.mod asks for Go 1.27.3 (standard-library security fixes); a machine
# with an older Go fetches that toolchain from the module proxy.
export GOTOOLCHAIN=go1.27.3

HOIST=${HOIST:-hoist}
work=$(mktemp -d)
emu_pid=""
cleanup() {
	if [ -n "$emu_pid" ]; then kill "$emu_pid" 2>/dev/null || true; wait "$emu_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
die() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
# field NAME reads a string field from the JSON on stdin (first match).
field() { sed -n 's/.*"'"$1"'":"\([^"]*\)".*/\1/p' | head -n1; }
# number NAME reads a numeric field from the JSON on stdin (first match).
number() { sed -n 's/.*"'"$1"'":\([0-9][0-9]*\).*/\1/p' | head -n1; }
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

URL=${EMULATOR_URL:-}
if [ -z "$URL" ]; then
	step "start hoist emulator"
	"$HOIST" emulator --addr 127.0.0.1:0 --data "$work/data" --log-format json >"$work/emu.out" 2>"$work/emu.log" &
	emu_pid=$!
	for _ in $(seq 1 100); do
		URL=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$work/emu.out")
		[ -n "$URL" ] && break
		kill -0 "$emu_pid" 2>/dev/null || { cat "$work/emu.log" >&2; die "emulator exited"; }
		sleep 0.1
	done
	[ -n "$URL" ] || die "emulator did not start"
fi
echo "emulator at $URL"
host=${URL#http://}

step "user alice"
user=$(curl -sf -X POST "$URL/_emulator/users" -d '{"login":"alice"}')
alice_token=$(printf '%s' "$user" | field token)
[ -n "$alice_token" ] || die "no token in $user"

step "app hoist with a fresh RSA key"
openssl genrsa -out "$work/app.pem" 2048 2>/dev/null
openssl rsa -in "$work/app.pem" -pubout -out "$work/app.pub" 2>/dev/null
pub=$(sed ':a;N;$!ba;s/\n/\\n/g' "$work/app.pub")
secret="demo-secret-$$"
app=$(curl -sf -X POST "$URL/_emulator/apps" -d '{"slug":"hoist","public_key_pem":"'"$pub"'","webhook_url":"","webhook_secret":"'"$secret"'"}')
app_id=$(printf '%s' "$app" | number id)
[ -n "$app_id" ] || die "no app id in $app"
echo "app id $app_id"

step "repository acme/site, app installed"
curl -sf -X POST "$URL/_emulator/repos" -d '{"owner":"acme","name":"site","default_branch":"main","owner_token":"'"$alice_token"'"}' >/dev/null
inst=$(curl -sf -X POST "$URL/_emulator/installations" -d '{"app_id":'"$app_id"',"repositories":["acme/site"]}')
inst_id=$(printf '%s' "$inst" | number id)
echo "installation $inst_id"

step "app JWT (RS256, signed with openssl) -> installation token"
now=$(date +%s)
header=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)
claims=$(printf '{"iat":%d,"exp":%d,"iss":"%s"}' $((now - 60)) $((now + 540)) "$app_id" | b64url)
sig=$(printf '%s.%s' "$header" "$claims" | openssl dgst -sha256 -sign "$work/app.pem" | b64url)
jwt="$header.$claims.$sig"
tok=$(curl -sf -X POST -H "Authorization: Bearer $jwt" "$URL/app/installations/$inst_id/access_tokens")
inst_token=$(printf '%s' "$tok" | field token)
[ -n "$inst_token" ] || die "no installation token: $tok"
echo "token expires at $(printf '%s' "$tok" | field expires_at)"

step "push main with the installation token"
git init -q -b main "$work/site"
cd "$work/site"
git config user.name "Demo"
git config user.email "demo@example.com"
mkdir -p public
echo '<h1>Shop</h1>' >public/index.html
git add -A
git commit -q -m "first page"
git push -q "http://x-access-token:$inst_token@$host/acme/site.git" main
head=$(git rev-parse HEAD)
echo "pushed $head"

step "read it back through the REST API"
ref=$(curl -sf -H "Authorization: token $alice_token" "$URL/repos/acme/site/git/ref/heads/main")
[ "$(printf '%s' "$ref" | field sha)" = "$head" ] || die "ref is not $head: $ref"
content=$(curl -sf -H "Authorization: token $alice_token" "$URL/repos/acme/site/contents/public/index.html" | sed -n 's/.*"content":"\([^"]*\)".*/\1/p' | sed 's/\\n//g' | openssl base64 -d -A)
[ "$content" = "<h1>Shop</h1>" ] || die "content is $content"
echo "main is at $head and public/index.html reads: $content"

step "a non-fast-forward update is refused"
git checkout -q --orphan other
echo other >public/index.html
git commit -q -am "unrelated"
git push -q "http://alice:$alice_token@$host/acme/site.git" other
other=$(git rev-parse HEAD)
status=$(curl -s -o "$work/nff.json" -w '%{http_code}' -X PATCH -H "Authorization: token $alice_token" \
	"$URL/repos/acme/site/git/refs/heads/main" -d '{"sha":"'"$other"'","force":false}')
[ "$status" = 422 ] || die "PATCH answered $status: $(cat "$work/nff.json")"
grep -q '"message":"Update is not a fast forward"' "$work/nff.json" || die "unexpected body $(cat "$work/nff.json")"
echo "422: $(field message <"$work/nff.json")"
[ "$(curl -sf -H "Authorization: token $alice_token" "$URL/repos/acme/site/git/ref/heads/main" | field sha)" = "$head" ] || die "main moved"

step "the push webhook is signed with the app's secret"
id=""
for _ in $(seq 1 50); do
	list=$(curl -sf -H "Authorization: Bearer $jwt" "$URL/app/hook/deliveries?per_page=100")
	id=$(printf '%s' "$list" | sed 's/},{/}\n{/g' | grep '"event":"push"' | grep -v '"status":"pending"' | tail -n1 | sed -n 's/.*"guid":"[^"]*","id":\([0-9]*\).*/\1/p')
	[ -n "$id" ] && break
	sleep 0.1
done
[ -n "$id" ] || die "no push delivery in $list"
delivery=$(curl -sf -H "Authorization: Bearer $jwt" "$URL/app/hook/deliveries/$id")
signature=$(printf '%s' "$delivery" | field X-Hub-Signature-256)
payload=$(printf '%s' "$delivery" | sed 's/.*"request":{"headers":{[^}]*},"payload":\(.*\)},"response":.*/\1/')
expected="sha256=$(printf '%s' "$payload" | openssl dgst -sha256 -hmac "$secret" | sed 's/^.*= //')"
[ "$signature" = "$expected" ] || die "signature $signature, computed $expected"
printf '%s' "$payload" | grep -q '"after":"'"$head"'"' || die "payload is not the push of $head"
printf '%s' "$payload" | grep -q '"ref":"refs/heads/main"' || die "payload is not for refs/heads/main"
echo "push delivery $id: ref refs/heads/main, after $head, $signature verified"

printf '\nOK: emulator demo passed\n'
