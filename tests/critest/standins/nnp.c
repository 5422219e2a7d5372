/* A stand-in for critest's nonewprivs image's program: installed set-user-ID root, it prints its
 * effective UID, 0 when the set-user-ID bit took effect and the caller's otherwise
 * (no_new_privs). Built static by tests/critest/run.py; not part of gantry. */
#include <stdio.h>
#include <unistd.h>

int main(void) {
    printf("Effective uid: %d\n", (int)geteuid());
    return 0;
}
