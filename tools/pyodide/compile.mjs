// Compiles every Python source under the folders given to CPython 3.13 bytecode, in each source's
// __pycache__, with Pyodide: CPython 3.13 built for WebAssembly, whose bytecode is CPython 3.13's
// on any machine. The .pyc files are "unchecked-hash" ones: Python loads them without comparing
// the source's modification time, which a zip of a layer does not keep exactly.
// Usage: node compile.mjs FOLDER... (tools/bytecode.py runs it after sam build).
import { loadPyodide } from "pyodide";

const folders = process.argv.slice(2);
const pyodide = await loadPyodide();
pyodide.globals.set("count", folders.length);
folders.forEach((folder, index) => {
  pyodide.FS.mkdirTree(`/build/${index}`);
  pyodide.FS.mount(pyodide.FS.filesystems.NODEFS, { root: folder }, `/build/${index}`);
});
const result = pyodide.runPython(`
import compileall, json, py_compile, sys
ok = all(
    compileall.compile_dir(
        f"/build/{index}",
        quiet=1,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        workers=1,
    )
    for index in range(count)
)
json.dumps({"version": list(sys.version_info[:3]), "ok": bool(ok)})
`);
console.log(result);
if (!JSON.parse(result).ok) process.exit(1);
