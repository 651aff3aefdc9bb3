// The sluice binary: every subcommand of the command line, with the example
// topologies of this directory registered.
#include "runtime/cli/cli.h"

int main(int argc, char** argv) {
  return sluice::cli_main(argc, argv);
}
