#!/usr/bin/env bash
# Build cache bench: first build and fully cached rebuild of a 5-step
# Dockerfile with a 50 MB context, next to `docker build` when a Docker engine
# is installed. Runs in a private mount + network namespace (RUN steps share it).
# Usage: bench/build-cache.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p . >/dev/null || true
runs=${1:-10}
unshare --net --mount --propagation private -- bash -c "ip link set lo up; node dist/bench/build-cache.js $runs"
echo "process-level (node start-up + import + cached build):"
if command -v hyperfine >/dev/null; then
  unshare --net --mount --propagation private -- bash -c '
    set -e
    ip link set lo up
    root=$(mktemp -d /tmp/tsstack-bench-proc-XXXXXX)
    trap "rm -rf $root" EXIT
    node --input-type=module -e "
      import { mkdirSync, writeFileSync } from \"node:fs\";
      import { randomBytes } from \"node:crypto\";
      import { ImageStore } from \"./dist/src/engine/image/store.js\";
      import { buildImage } from \"./dist/src/engine/image/build/index.js\";
      import { makeBusyboxImage } from \"./dist/test/helpers/images.js\";
      const root = process.argv[1];
      mkdirSync(root + \"/ctx/data\", { recursive: true });
      for (let i = 0; i < 50; i++) writeFileSync(root + \"/ctx/data/f\" + i, randomBytes(1 << 20));
      writeFileSync(root + \"/ctx/Dockerfile\", \"FROM busybox\\nCOPY data/ /data/\\nRUN ls /data | wc -l > /count\\nENV A=1\\nRUN echo \$A > /a\\nCMD [\\\"sh\\\"]\\n\");
      const s = new ImageStore({ root: root + \"/store\" });
      await makeBusyboxImage(s);
      await buildImage(s, { context: root + \"/ctx\", args: {}, labels: {}, tags: [\"bench:latest\"] });
    " "$root"
    cat > "$root/rebuild.mjs" <<JS
import { ImageStore } from "$PWD/dist/src/engine/image/store.js";
import { buildImage } from "$PWD/dist/src/engine/image/build/index.js";
await buildImage(new ImageStore({ root: "$root/store" }), { context: "$root/ctx", args: {}, labels: {}, tags: ["bench:latest"] });
JS
    hyperfine -N --warmup 2 --runs 10 --show-output --export-json "$root/h.json" "node $root/rebuild.mjs" > "$root/out.log" 2>&1 || { tail -30 "$root/out.log"; exit 1; }
    jq -r ".results[0] | \"  tsstack build, all cached, as a new process: median \\((.median*1000)|floor) ms (min \\((.min*1000)|floor), max \\((.max*1000)|floor)) over \\(.times|length)\"" "$root/h.json"
  '
else
  echo "  hyperfine: not installed"
fi
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  echo "docker build: measured side by side (BuildKit or legacy) by bench/compare.sh"
else
  echo "docker build: not installed; bench/compare.sh installs Debian's docker.io and measures it side by side"
fi
