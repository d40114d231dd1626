//! Builder methods, written once: each `name(&mut this, arg: Type, ...) { body }` item of
//! [`builder_methods!`] becomes `pub fn name(mut self, arg: Type, ...) -> Self`, which runs the
//! body on the specification and returns it, with the item's doc comment.

/// Consuming builder methods of a specification struct (see the module docs).
macro_rules! builder_methods {
    ($( $(#[$doc:meta])* $name:ident(&mut $this:ident $(, $arg:ident: $ty:ty)*) $body:block )*) => {$(
        $(#[$doc])*
        pub fn $name(mut self $(, $arg: $ty)*) -> Self {
            let $this = &mut self;
            $body
            self
        }
    )*};
}
pub(crate) use builder_methods;
