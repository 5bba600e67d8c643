// Used by build/vendor.mjs inside the @oclif/core bundle: stands for a module and evaluates it when one of its
// properties (or the module itself, if it is a function) is first used.
module.exports = function lazyModule(load) {
  let real
  const get = () => (real ??= load())
  // An arrow function as the target, so the stand-in can also be called when the module is a function.
  return new Proxy(() => {}, {
    get: (_, key) => Reflect.get(get(), key),
    has: (_, key) => Reflect.has(get(), key),
    set: (_, key, value) => Reflect.set(get(), key, value),
    ownKeys: () => Reflect.ownKeys(get()),
    getOwnPropertyDescriptor: (_, key) => {
      const d = Reflect.getOwnPropertyDescriptor(get(), key)
      // A proxy may not report a property as non-configurable unless its target has it so.
      if (d) d.configurable = true
      return d
    },
    apply: (_, self, args) => Reflect.apply(get(), self, args),
    construct: (_, args) => Reflect.construct(get(), args),
  })
}
