/* The pod sandbox's process (hack/cluster up --real-node): holds the pod's namespaces and sleeps until told to stop. */
#include <signal.h>
#include <unistd.h>
static void stop(int sig) { (void) sig; _exit(0); }
int main(void) { signal(SIGINT, stop); signal(SIGTERM, stop); for (;;) pause(); }
