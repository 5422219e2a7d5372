# The modules of libgantry: one static library per folder of src/ (cli/ and spank/ aside), each
# with the modules it may include (DEPENDS). The build enforces the list: a module's files are
# compiled against an include root of its own (BUILD/module-include/NAME/) that holds links to
# its own folder and to the folders of the modules it depends on (directly or through them), and
# nothing else, so an include of any other module fails the build:
#
#   src/layer/unpack.cpp:2:10: fatal error: engine/engine.hpp: No such file or directory
#
# An include that fails so is an upward edge: move what it needs down (docs/architecture.md), or,
# when the edge is true and keeps the graph acyclic, add the module to DEPENDS here (and CMake
# refuses a cycle). Order: a module after the ones it depends on. `tools/module_graph.py
# --declared` compares this list with the includes; `--markdown` prints the table of
# docs/architecture.md.
#
# gantry_module(NAME PURPOSE "one line" [DEPENDS module...])

gantry_module(util PURPOSE "errors, fds, atomic writes, locks, logging, hashing, YAML, text and units, the config file")
gantry_module(findings PURPOSE "what doctor, lint and analyze report: one Finding, one severity scale and its words"
  DEPENDS util)
gantry_module(kernel_cache PURPOSE "JIT, compile and autotuning caches kept per key across starts: the key, the variables pointed into a cache, the directories of the keys, one writer per key, publication, eviction"
  DEPENDS findings util)
gantry_module(elf PURPOSE "ELF files read as hostile input: the header, section and program header tables (ELF32/64, either byte order), a shared object's dynamic facts, the regions worth scanning"
  DEPENDS util)
gantry_module(dispatch PURPOSE "what main() decides: the OCI-runtime name, the command a line names, how a failure exits"
  DEPENDS util)
gantry_module(gotemplate PURPOSE "Go's text/template over JSON, docker's --format (table, json), Go's tabwriter"
  DEPENDS util)
gantry_module(manual PURPOSE "the command tree's man pages and bash/zsh completions, rendered at build time"
  DEPENDS util)
gantry_module(oci PURPOSE "the OCI image and runtime spec models, digests, references, seccomp profile"
  DEPENDS util)
gantry_module(seccomp PURPOSE "seccomp filters: gantry's default profile (compiled to BPF at build time), the profile --cap-add unlocks, a bundle's linux.seccomp, compiled with libseccomp (dlopen) and loaded"
  DEPENDS oci util)
gantry_module(sandbox PURPOSE "the confinement of gantry's own parsers of hostile input (the FUSE servers of squashfs and lazily pulled roots): nobody's ids, no capabilities, no_new_privs, a filter of the system calls they name"
  DEPENDS seccomp util)
gantry_module(userns PURPOSE "user namespaces for rootless work: id maps (the caller's own, /etc/subuid's through newuidmap), a job run as root of a new one, why one cannot be created"
  DEPENDS oci util)
gantry_module(network PURPOSE "container networks: the modes (host, none, bridge, user networks), docker's published ports, a container's /etc/hosts and /etc/resolv.conf, the user-mode stack (pasta) that joins a namespace to the outside, user networks kept in the store and the namespace their bridges and DNS live in (netavark, aardvark-dns)"
  DEPENDS oci userns util)
gantry_module(runtime PURPOSE "the low-level runtime under both front ends (engine, ocirt): one OCI runtime spec executed: namespaces, mounts, devices, cgroups, hooks, the process, exec into it, the monitor's fork"
  DEPENDS oci seccomp userns util)
gantry_module(records PURPOSE "the container records every door reads and writes (ContainerState, StateDir in the runtime directory, the parsed-state cache), stop/kill/rm and pause/unpause of a recorded container, and the event journal beside them"
  DEPENDS network oci runtime util)
gantry_module(container_log PURPOSE "a detached container's log: docker's multiplexed frames appended by its output copier, read back as `docker logs` does"
  DEPENDS util)
gantry_module(layer PURPOSE "one layer blob streamed: read, decompress, tar reading, safe extraction"
  DEPENDS oci util)
gantry_module(store PURPOSE "the content-addressed image store, its importer and layer writer, scratch"
  DEPENDS layer oci userns util)
gantry_module(gpu_components PURPOSE "the GPU vendor component tables (data in the vendor folders), recognising their files, licences and package metadata"
  DEPENDS util)
gantry_module(dockerfile PURPOSE "the Dockerfile model: BuildKit's parser, instructions, words"
  DEPENDS util)
gantry_module(deffile PURPOSE "Apptainer's definition files: the parser, sections, {{ var }} build arguments"
  DEPENDS util)
gantry_module(sif PURPOSE "Apptainer's SIF files: header, descriptors, the system partition, the metadata as run defaults, the layout gantry writes, Apptainer's signatures (OpenPGP, DSSE, legacy) checked and added (the crypto passed in)"
  DEPENDS util)
gantry_module(site PURPOSE "the site's image policy: registries.conf, policy.json, signatures"
  DEPENDS oci sif util)
gantry_module(k8s PURPOSE "containerd's config.toml edited for a gantry runtime class, the RuntimeClass object"
  DEPENDS site util)
gantry_module(cdi PURPOSE "vendor-neutral CDI specs: model, read, validate, write, apply"
  DEPENDS oci util)
gantry_module(runspec PURPOSE "the OCI runtime spec of a gantry run, built from an image config and docker-style run options (what engine/ hands runtime/)"
  DEPENDS oci util)
gantry_module(gpu_host PURPOSE "what every GPU host shares, whatever the vendor: device nodes, ld.so.cache, docker's --gpus flag, the host caches"
  DEPENDS util)
gantry_module(cpu PURPOSE "x86-64 ISA levels and aarch64 versions and features: the host's, --cpu-arch targets, image labels"
  DEPENDS util)
gantry_module(binfmt PURPOSE "the host's binfmt_misc handlers and which one runs a foreign platform's programs (qemu-user-static)"
  DEPENDS oci util)
gantry_module(image_facts PURPOSE "the vendor-neutral parsers the vendors' doctor rules read an image's versions with, running nothing: wheel METADATA, version header defines, versioned library names, the dpkg database, a Python module's assignments (PyTorch's version.py)"
  DEPENDS util)
gantry_module(device_code PURPOSE "the device-code format interface every vendor implements (keep grammar and keep options, reader, rewriter, build variables) and the kept set and per-file report they share"
  DEPENDS util)
gantry_module(archive PURPOSE "docker save / OCI archives and layouts in and out"
  DEPENDS layer oci store util)
gantry_module(rootfs PURPOSE "an image's layers as a root: overlay stack, flattened copy, run view, a directory's files read in-root"
  DEPENDS layer oci store util)
gantry_module(registry PURPOSE "the distribution API client: auth, blobs, pull, push"
  DEPENDS layer oci site store util)
gantry_module(fuse PURPOSE "the FUSE server of a container's root: gantry's own low-level operations on libfuse3's loop, in a confined process, over the Tree interface a squashfs image and a lazy pull implement"
  DEPENDS oci util)
gantry_module(sqsh PURPOSE "single-file squashfs images (.sqsh, and .sif's squashfs partition): write, read, cache, shared stores"
  DEPENDS fuse layer oci rootfs sif store util)
gantry_module(sqsh_pull PURPOSE "pull --format squashfs|sif: a registry image pulled into a temporary store, written as one file, into a shared store or the node's squashfs cache"
  DEPENDS oci registry site sqsh store util)
gantry_module(lazy PURPOSE "lazy pull: eStargz and zstd:chunked tables of contents, chunks by Range requests, the merged tree, prefetch, squashfs artifacts"
  DEPENDS fuse layer oci registry rootfs site sqsh store util)
gantry_module(lint PURPOSE "the Dockerfile rules: the build model they read, the rules that name no vendor, the vendors' rule sets run, their reports"
  DEPENDS dockerfile findings gpu_components oci util)
gantry_module(gpu_vendors PURPOSE "the GPU layer's plug-in interface (Backend: every door's GPU plan, CDI, doctor, device code, lint rules, analyze findings), host roots, what vendors share: paths inside a driver root, bounded sysfs reads, device node access, --gpus and device selection, CDI nodes, the doctor's verdict cache, the policy, a plan applied through the one CDI applier"
  DEPENDS cdi device_code findings gpu_host kernel_cache oci rootfs store util)
# One module per vendor, in its folder under gpu_vendors/: a vendor sees the interface, never
# another vendor (the build fails on such an include, as on any undeclared one).
gantry_module(nvidia FOLDER gpu_vendors/nvidia PURPOSE "NVIDIA's GPUs: the driver's files, NVML, CUDA requirements and the driver/CUDA version tables, an image's CUDA facts, the CDI description of a container's GPUs, the doctor's rules, CUDA fat binaries, its lint rules and analyze findings"
  DEPENDS gpu_vendors cdi device_code elf findings gpu_host image_facts lint oci rootfs store util)
gantry_module(amd FOLDER gpu_vendors/amd PURPOSE "AMD's GPUs: the KFD topology, ROCm, WSL2, the CDI description of a container's GPUs, the doctor's rules, HIP offload bundles, its lint rules and analyze findings"
  DEPENDS gpu_vendors cdi device_code elf findings gpu_host image_facts lint oci rootfs store util)
gantry_module(intel FOLDER gpu_vendors/intel PURPOSE "Intel's GPUs: the i915/xe DRM devices, Level Zero and the compute runtime, the CDI description of a container's GPUs, the doctor's rules, SYCL/OpenMP device code, its lint rules and analyze findings"
  DEPENDS gpu_vendors cdi device_code elf findings gpu_host image_facts lint oci rootfs store util)
gantry_module(gpu_vendors_all FOLDER gpu_vendors/all PURPOSE "every vendor in one list (the only place that names them) and what goes over all of them: choosing one, root flags, --keep-arch host, every door's GPU step, their lint rules and analyze findings"
  DEPENDS amd intel nvidia gpu_vendors cdi device_code gpu_host runspec util)
gantry_module(tailor PURPOSE "fat binaries rewritten in place to the kept GPUs' code, over every vendor's device-code format"
  DEPENDS device_code gpu_vendors_all util)
gantry_module(analyze PURPOSE "an image's report from one pass over its layer blobs"
  DEPENDS device_code elf findings gpu_components gpu_vendors_all image_facts layer oci store tailor util)
gantry_module(slim PURPOSE "a smaller image from an analysed one"
  DEPENDS analyze elf layer store tailor util)
gantry_module(gpu_limits PURPOSE "a share of a GPU and the CPUs next to it: the GPUs' NUMA nodes and local CPUs from PCI sysfs, the cgroup dmem controller's regions and limits, the flags' values, all of it applied to a container's spec for every door"
  DEPENDS findings gpu_vendors gpu_vendors_all oci runtime util)
gantry_module(engine PURPOSE "the front end of gantry's own doors (run, create/start, exec; the Engine API's helpers, Slurm's run -d, build RUN steps): an image and docker's flags prepared into a root, a runtime spec, GPUs and a record, then run by runtime/"
  DEPENDS binfmt cdi container_log cpu elf fuse gpu_limits gpu_vendors_all kernel_cache lazy network oci records registry rootfs runspec runtime sandbox site sqsh store util)
gantry_module(apptainer PURPOSE "gantry apptainer, Apptainer's command line as a door of its own: its actions, flags and defaults as one engine::RunRequest, instances as detached containers, inspect and run-help of a SIF or sandbox, sandbox directories built, its image commands as gantry's"
  DEPENDS engine gotemplate gpu_vendors_all records registry sif sqsh util)
gantry_module(ocirt PURPOSE "the front end of gantry oci (containerd's runc shim, CRI pods, podman): runc's command-line contract over a bundle another engine prepared, through the same core as engine/ (records, runtime, GPUs)"
  DEPENDS cdi engine fuse gpu_limits gpu_vendors_all kernel_cache lazy oci records registry runtime sandbox sqsh store util)
gantry_module(docker_model PURPOSE "docker's shapes of gantry's containers, images, version, info, events and stats (--format rows, inspect JSON, the events stream, StatsJSON) and docker's --filter"
  DEPENDS engine gotemplate oci records store util)
gantry_module(image_list PURPOSE "what gantry images and GET /images/json list: the local store's, lazily pulled and shared stores' images with docker's facts, sizes and filters"
  DEPENDS docker_model lazy oci sqsh store util)
gantry_module(image_build PURPOSE "gantry build: the plan (a Dockerfile or an Apptainer definition file), the executor, RUN, COPY/ADD, layer commits"
  DEPENDS archive deffile dockerfile engine gpu_vendors_all layer oci registry rootfs sif store tailor userns util)
gantry_module(engine_api PURPOSE "gantry system service: the Docker Engine API on a unix socket or TCP (libmicrohttpd, and GnuTLS for TLS, both dlopen'ed), its routes, request limits and handlers over the CLI's library calls"
  DEPENDS analyze archive container_log docker_model engine gpu_vendors gpu_vendors_all image_list oci records registry store util)
