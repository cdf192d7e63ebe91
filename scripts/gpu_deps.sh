#!/usr/bin/env bash
# Build dependencies for a machine without network access (the GPU machine of
# scripts/gpu_check.sh), in two halves:
#
#   scripts/gpu_deps.sh download   (here, on Debian 12, with apt): the .deb files of
#                                  drift's build dependencies into .deps/ (~20 MB,
#                                  git-ignored; carry it to the other machine)
#   scripts/gpu_deps.sh unpack     (there): for each dependency whose header the
#                                  compiler cannot find, unpack its .deb files into
#                                  $DEPS_ROOT (default /tmp/drift-deps) and print the
#                                  environment that points the build there
#
# gpu_check.sh runs `unpack` itself when .deps/ exists and evals its output.
# Only missing dependencies are unpacked: the system's own libraries win
# (DEPS_FORCE=1 unpacks them all, to try the mechanism on a full system).
set -euo pipefail
cd "$(dirname "$0")/.." || exit 1
DEPS_DIR=${DEPS_DIR:-.deps}
DEPS_ROOT=${DEPS_ROOT:-/tmp/drift-deps}

# group: a header that proves it is installed, then its packages.
GROUPS_LIST=(
  "cblas.h libopenblas-openmp-dev libopenblas0-openmp libopenblas-dev libgfortran5 libgomp1"
  "gtest/gtest.h libgtest-dev"
  "png.h libpng-dev libpng16-16"
  "zlib.h zlib1g-dev"
  "jpeglib.h libjpeg-dev libjpeg62-turbo-dev libjpeg62-turbo"
  "nlohmann/json.hpp nlohmann-json3-dev"
  "CLI/CLI.hpp libcli11-dev"
  "stb/stb_image.h libstb-dev libstb0"
  "curl/curl.h libcurl4-openssl-dev libcurl4"
  "openssl/md5.h libssl-dev"
)

case ${1:-} in
  download)
    mkdir -p "$DEPS_DIR"
    pkgs=()
    for g in "${GROUPS_LIST[@]}"; do
      read -r -a words <<< "$g"
      pkgs+=("${words[@]:1}")
    done
    (cd "$DEPS_DIR" && apt-get download "${pkgs[@]}")
    du -sh "$DEPS_DIR"
    ;;
  unpack)
    [[ -d $DEPS_DIR ]] || { echo "gpu_deps.sh: no $DEPS_DIR folder (run 'download' where apt works)" >&2; exit 1; }
    mkdir -p "$DEPS_ROOT"
    for g in "${GROUPS_LIST[@]}"; do
      read -r -a words <<< "$g"
      header=${words[0]}
      if [[ ${DEPS_FORCE:-0} != 1 ]] && echo "#include <$header>" | g++ -E -x c++ - >/dev/null 2>&1; then continue; fi
      echo "# gpu_deps: $header missing: unpacking ${words[*]:1}" >&2
      for p in "${words[@]:1}"; do
        for deb in "$DEPS_DIR"/"${p}"_*.deb; do
          [[ -f $deb ]] && dpkg-deb -x "$deb" "$DEPS_ROOT"
        done
      done
    done
    u=$DEPS_ROOT/usr
    a=$u/lib/x86_64-linux-gnu
    # OpenBLAS's headers and libraries live in an openblas-openmp/ folder that
    # Debian's alternatives (not the .deb) link into place: link them here.
    # stb's headers are looked for as <stb_image.h> (CMakeLists: STB_INCLUDE_DIR).
    if [[ -d $u/include/stb ]]; then
      for f in "$u"/include/stb/*; do ln -sf "$f" "$u/include/"; done
    fi
    if [[ -d $u/include/x86_64-linux-gnu/openblas-openmp ]]; then
      for f in "$u"/include/x86_64-linux-gnu/openblas-openmp/*; do ln -sf "$f" "$u/include/"; done
      for f in "$a"/openblas-openmp/libopenblas*; do ln -sf "$f" "$a/"; done
    fi
    # The environment for the build (gpu_check.sh evals it).
    echo "export CMAKE_PREFIX_PATH=$u\${CMAKE_PREFIX_PATH:+:\$CMAKE_PREFIX_PATH}"
    echo "export CPATH=$u/include:$u/include/x86_64-linux-gnu\${CPATH:+:\$CPATH}"
    echo "export LIBRARY_PATH=$a\${LIBRARY_PATH:+:\$LIBRARY_PATH}"
    echo "export LD_LIBRARY_PATH=$a\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
    echo "export PKG_CONFIG_PATH=$a/pkgconfig:$u/share/pkgconfig\${PKG_CONFIG_PATH:+:\$PKG_CONFIG_PATH}"
    ;;
  *)
    echo "usage: scripts/gpu_deps.sh download|unpack" >&2
    exit 2
    ;;
esac
