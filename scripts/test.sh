#!/usr/bin/env bash
# Runs every check Shoal has, on a fresh Debian 12 machine or a developer's:
# installs what the tests need (Debian packages of the real clients the
# interop tests drive, Go tools), then gofmt, go vet, staticcheck,
# go test -race ./..., and each fuzz target for a few seconds.
#
# Environment: FUZZTIME (default 5s) per fuzz target; CI=true makes a
# missing real client fail its interop test instead of skipping it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:${GOPATH:-$HOME/go}/bin:$PATH"
FUZZTIME=${FUZZTIME:-5s}
STATICCHECK_VERSION=v0.8.2

step() { printf '\n== %s\n' "$*"; }

# Debian packages: the real clients our interop tests run against.
packages=(python3-libtorrent transmission-cli transmission-daemon aria2 mktorrent opentracker openssl iproute2)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	step "installing Debian packages: ${missing[*]}"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -q
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi

step "Go modules and tools"
go version
go mod download
if ! staticcheck -version 2>/dev/null | grep -q "${STATICCHECK_VERSION#v}"; then
	go install "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}"
fi

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "staticcheck"
staticcheck ./...

step "go test -race"
go test -race -count=1 -timeout 30m ./...

# fuzz_one runs one fuzz target. Go 1.26's fuzz coordinator can fail a
# target with a bare "context deadline exceeded" at the -fuzztime boundary
# when a worker is still mid-call (golang/go#75804, fixed in Go 1.27): that
# failure writes no failing input. So a failure that left a new file in
# testdata/fuzz/TARGET is a real crasher and fails at once; one that left
# none is run again, at most twice more, and fails if it keeps failing.
fuzz_one() {
	local pkg=$1 target=$2 dir corpus before after attempt
	dir=$(go list -f '{{.Dir}}' "$pkg")
	corpus="$dir/testdata/fuzz/$target"
	for attempt in 1 2 3; do
		before=$(ls "$corpus" 2>/dev/null | sort || true)
		if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"; then
			return 0
		fi
		after=$(ls "$corpus" 2>/dev/null | sort || true)
		if [ "$before" != "$after" ]; then
			echo "$pkg $target: the fuzzer found a failing input, saved in $corpus"
			return 1
		fi
		echo "$pkg $target failed without a failing input (golang/go#75804?); run $attempt of 3"
	done
	return 1
}

step "fuzz targets, $FUZZTIME each"
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "-- $pkg $target"
		fuzz_one "$pkg" "$target"
	done
done
