// Command etcd is etcd's own server entrypoint, built from the published
// go.etcd.io/etcd/server/v3 module by hack/build-tools.sh.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
