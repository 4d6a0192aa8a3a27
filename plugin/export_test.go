package plugin

// ModuleBrotli and ModuleGzip give tests the compressed module.
func ModuleBrotli() []byte { return moduleBrotli }
func ModuleGzip() []byte   { return moduleGzip }
