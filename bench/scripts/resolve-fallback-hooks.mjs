const benchPackageJson = new URL('../package.json', import.meta.url).href

const isBare = (specifier) => !/^(\.|\/|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(specifier)

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context)
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !isBare(specifier) || context.parentURL === benchPackageJson) throw error
    return nextResolve(specifier, { ...context, parentURL: benchPackageJson })
  }
}
