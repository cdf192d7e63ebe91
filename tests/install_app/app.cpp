// Built against an installed drift only: prints sum(ones(2, 3)) = 6.
#include <drift/drift.h>

#include <cstdio>

int main() {
  std::printf("%g\n", drift::ops::item(drift::ops::sum(drift::ops::ones({2, 3}))));
  return 0;
}
