// The one lazy-loading primitive of the bundles (see the comment at the top of build/vendor.mjs): stands for a module,
// or one export of it, and calls load() when one of its properties (or it itself, if a function or class) is first used.
module.exports = function lazyModule(load) {
  let real
  const get = () => (real ??= load())
  // The target is a bound function: callable and constructible like a module that is a function or a class, and
  // with no non-configurable own property ('prototype') that the proxy's invariants would pin down.
  // Reads and writes through an object that inherits from the stand-in go to that object, not to the module.
  const receiverOf = (receiver) => (receiver === stand ? get() : receiver)
  const stand = new Proxy(function () {}.bind(null), {
    get: (_, key, receiver) => Reflect.get(get(), key, receiverOf(receiver)),
    has: (_, key) => Reflect.has(get(), key),
    set: (_, key, value, receiver) => Reflect.set(get(), key, value, receiverOf(receiver)),
    ownKeys: () => Reflect.ownKeys(get()),
    getOwnPropertyDescriptor: (_, key) => {
      const d = Reflect.getOwnPropertyDescriptor(get(), key)
      // A proxy may not report a property as non-configurable unless its target has it so.
      if (d) d.configurable = true
      return d
    },
    apply: (_, self, args) => Reflect.apply(get(), self, args),
    // `new.target` stays the subclass when a class extends the stand-in.
    construct: (_, args, newTarget) => Reflect.construct(get(), args, newTarget === stand ? get() : newTarget),
  })
  return stand
}
